"""Shared test set-up: a deterministic hypothesis profile and seeded generators.

The ``micrograd`` hypothesis profile (loaded by default) runs a modest number of
examples per property with ``derandomize=True``, so every run draws the same
examples; set ``HYPOTHESIS_PROFILE=thorough`` to search harder.
"""

from __future__ import annotations

import os
import random
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "micrograd",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "micrograd"))


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    """Seed Python's, numpy's, the engine's and (when loaded) torch's generators."""
    random.seed(0)
    np.random.seed(0)  # noqa: NPY002 - legacy global generator, in case anything uses it
    nn = sys.modules.get("micrograd_plus.nn")
    if nn is not None:
        nn.manual_seed(0)
    if "torch" in sys.modules:
        # A batch imports torch in a background thread: this import waits until that one is
        # done, rather than seeding a half-initialised module.
        import torch

        torch.manual_seed(0)


@pytest.fixture
def rng() -> np.random.Generator:
    """A numpy generator with a fixed seed."""
    return np.random.default_rng(0)
