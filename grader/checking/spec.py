"""Declarative checks: what to run on the learner's code and what PyTorch says.

A :class:`Spec` is data. Its ``learner`` function runs the learner's symbols on
inputs drawn from a seeded generator and returns plain arrays; it must use
numpy only, because the grader runs it inside the sandbox where torch is not
importable. Its ``reference`` function computes the expected arrays (usually
with torch, imported inside the function) and runs only in a trusted process.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.checking.compare import Row
from grader.checking.lessons import first_rung
from grader.labs import LABS, lab_of

Inputs = dict[str, np.ndarray]
Hint = str | tuple[str, str]
"""A spec's hint: the text of the second rung, or ``(first rung's concept, second rung)``."""
Outputs = Mapping[str, Any]


@dataclass(frozen=True)
class Spec:
    """One check.

    Attributes:
        id: ``<lab>.<topic>.<what>``, e.g. ``lab2.relu.backward``.
        points: what passing it is worth.
        symbols: names of the learner's objects it needs, in the order
            ``learner`` takes them (looked up in the notebook's namespace).
        inputs: ``rng -> {name: array}``; everything random comes from ``rng``.
        learner: ``(inputs, *symbols) -> {name: array}``; numpy only.
        reference: ``inputs -> {name: array}``; the oracle (torch allowed).
        rtol, atol: tolerances of the default element-wise comparison.
        hint: what usually causes a failure, the rungs of its hint ladder after the first:
            one text, or ``(concept, more)`` where ``concept`` replaces the lesson's
            concept on the first rung (see :attr:`hints`). Never the solution line.
        hidden: a hidden-test spec (left out of the learner bundle).
        compare: ``(got, expected, inputs) -> rows`` replacing the default
            element-wise comparison (statistical checks, accuracy floors).
    """

    id: str
    points: float
    symbols: tuple[str, ...]
    inputs: Callable[[np.random.Generator], Inputs]
    learner: Callable[..., Outputs]
    reference: Callable[[Inputs], Outputs]
    rtol: float = 1e-6
    atol: float = 1e-8
    hint: Hint = ""
    hidden: bool = False
    compare: Callable[[Outputs, Outputs, Inputs], list[Row]] | None = None

    @property
    def lab(self) -> str:
        return lab_of(self.id)

    @property
    def hints(self) -> tuple[str, ...]:
        """The hint ladder, one text per rung: the first names the concept and the section of
        the lab that teaches it (:mod:`grader.checking.lessons`), the next says more."""
        concept, more = self.hint if isinstance(self.hint, tuple) else ("", self.hint)
        return tuple(text for text in (first_rung(self.id, concept), more) if text)

    def rng(self, seed: int) -> np.random.Generator:
        """The generator for this spec at ``seed``: independent across specs, stable across runs."""
        return np.random.default_rng([seed, zlib.crc32(self.id.encode())])

    def make_inputs(self, seed: int) -> Inputs:
        return self.inputs(self.rng(seed))


_REGISTRY: dict[str, Spec] = {}


def register(spec: Spec) -> Spec:
    """Add a spec to the registry (ids are unique)."""
    if spec.id in _REGISTRY and _REGISTRY[spec.id] is not spec:
        raise ValueError(f"two checks share the id {spec.id!r}")
    _REGISTRY[spec.id] = spec
    return spec


def spec(**fields: Any) -> Spec:
    """Build and register a :class:`Spec` in one call."""
    return register(Spec(**fields))


def load_lab(lab_id: str) -> list[Spec]:
    """Import a lab's visible specs and, where present, its hidden ones."""
    if lab_id not in LABS and not lab_id.startswith("fixture"):
        raise KeyError(f"unknown lab {lab_id!r}; known: {', '.join(LABS)}")
    importlib.import_module(f"grader.checking.specs.{lab_id}")
    try:
        importlib.import_module(f"grader.checking.hidden.{lab_id}")
    except ModuleNotFoundError as exc:
        if exc.name != f"grader.checking.hidden.{lab_id}":
            raise
    return [s for s in _REGISTRY.values() if s.lab == lab_id]


def get_spec(check_id: str) -> Spec:
    """The spec with this id, importing its lab's spec modules on first use."""
    if check_id not in _REGISTRY:
        load_lab(lab_of(check_id))
    try:
        return _REGISTRY[check_id]
    except KeyError:
        known = ", ".join(sorted(s.id for s in _REGISTRY.values() if s.lab == lab_of(check_id)))
        raise KeyError(f"no check named {check_id!r}; this lab has: {known}") from None
