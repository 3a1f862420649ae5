"""Datasets for lab 1.7.5: MNIST and Fashion-MNIST as numpy arrays.

Every loader returns ``(X_train, y_train, X_test, y_test)`` with ``X`` float32 in
``[0, 1]`` of shape ``(N, 784)`` and ``y`` int64 of shape ``(N,)``.

:func:`load_mnist` reads full MNIST from ``<root>/MNIST/raw/`` (torchvision's layout)
when it is there, and otherwise falls back to the 8,000-digit sample committed as
``data/mnist_sample.npz`` (see ``data/README.md``), so the labs run offline. It says
once per process which of the two it is using.

The IDX files are read by :func:`read_idx`, a small reader that checks the magic
number, the header and the size, so a truncated download fails loudly with a
:class:`DataError` naming the file instead of yielding garbage.

>>> X_train, y_train, X_test, y_test = load_mnist(verbose=False)
>>> X_train.shape[1], X_train.dtype, y_train.dtype
(784, dtype('float32'), dtype('int64'))
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import struct
import urllib.request
import zipfile
import zlib
from pathlib import Path
from types import ModuleType

import numpy as np

__all__ = [
    "FASHION_MNIST_ROOT",
    "MNIST_MD5",
    "MNIST_MIRROR",
    "SAMPLE_PATH",
    "DataError",
    "download_mnist",
    "load_fashion_mnist",
    "load_mnist",
    "mnist_source",
    "read_idx",
    "which_mnist",
    "write_idx",
]

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""``(X_train, y_train, X_test, y_test)``."""

SAMPLE_PATH: Path = Path(__file__).resolve().parents[1] / "data" / "mnist_sample.npz"
"""The embedded 8,000-digit MNIST sample (6,800 train / 1,200 test) shipped with the repository."""

SAMPLE_NAME = "mnist_sample.npz"
SAMPLE_KEYS = ("X_train", "y_train", "X_test", "y_test")
"""The arrays of the sample file: uint8 images (N, 784) and integer labels (N,)."""

FASHION_MNIST_ROOT = "/usr/share/datasets/fashion-mnist"
"""Where Debian's ``dataset-fashion-mnist`` package installs its four ``.gz`` files."""

MNIST_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
"""The mirror torchvision downloads MNIST from first."""

MNIST_MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
"""torchvision's md5 of each gzipped MNIST file."""

IDX_FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
"""The four files of an MNIST-style dataset, without the optional ``.gz``."""

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10
_IDX_UINT8 = 0x08
_DOWNLOAD_TIMEOUT_S = 60.0
_CHUNK = 1 << 20

_urlopen = urllib.request.urlopen
"""Indirection so that tests can serve files without touching the network."""

_ANNOUNCED: set[str] = set()
"""Messages already printed in this process (each dataset is announced once)."""


class DataError(ValueError):
    """A dataset file is missing, truncated or corrupt; the message names the file."""


# --------------------------------------------------------------------------- IDX files


def write_idx(path: str | Path, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write a uint8 array as an IDX file (the format MNIST ships in).

    Args:
        path: Destination file. Parent folders are created.
        array: A ``uint8`` array with 1 to 255 dimensions.
        compress: Gzip the file. ``None`` (the default) gzips when ``path`` ends in ``.gz``.
            The gzip header has no timestamp, so equal arrays give equal bytes.

    Returns:
        The path written.

    Raises:
        ValueError: If ``array`` is not uint8 or has no dimensions.
    """
    path = Path(path)
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"write_idx writes uint8 arrays only, got {array.dtype}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"write_idx needs 1 to 255 dimensions, got {array.ndim}")
    header = bytes([0, 0, _IDX_UINT8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array).tobytes()
    if compress is None:
        compress = path.suffix == ".gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        with (
            path.open("wb") as raw,
            gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as f,
        ):
            f.write(payload)
    else:
        path.write_bytes(payload)
    return path


def read_idx(path: str | Path, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file of uint8 values, plain or gzipped (by the ``.gz`` suffix).

    Args:
        path: The file.
        ndim: If given, the number of dimensions the magic number must announce
            (3 for MNIST images, 1 for labels).

    Returns:
        A writable ``uint8`` array of the shape given in the header.

    Raises:
        DataError: If the file cannot be read, is not an IDX file of uint8 values, has the
            wrong number of dimensions, or holds fewer or more bytes than its header says.
    """
    path = Path(path)
    raw = _read_bytes(path)
    dims = _parse_idx_header(path, raw, ndim)
    offset = 4 + 4 * len(dims)
    expected = int(np.prod(dims, dtype=np.int64))
    found = len(raw) - offset
    if found != expected:
        what = "pixels" if len(dims) > 1 else "labels"
        hint = "truncated file?" if found < expected else "trailing garbage?"
        raise DataError(f"{path}: expected {expected} bytes of {what}, found {found} ({hint})")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims).copy()


def _read_bytes(path: Path) -> bytes:
    """Return the (decompressed) contents of ``path``, turning I/O failures into DataError."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise DataError(f"{path}: no such file") from exc
    except (OSError, EOFError, zlib.error) as exc:
        what = "not a valid gzip file" if path.suffix == ".gz" else "cannot read file"
        raise DataError(f"{path}: {what} ({exc})") from exc


def _parse_idx_header(path: Path, raw: bytes, ndim: int | None) -> tuple[int, ...]:
    """Check the magic number of an IDX file and return the dimensions in its header."""
    if len(raw) < 4:
        raise DataError(f"{path}: {len(raw)} bytes is too short for an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    if raw[0] != 0 or raw[1] != 0 or raw[3] == 0:
        raise DataError(f"{path}: bad magic number 0x{magic:08x} (not an IDX file?)")
    if raw[2] != _IDX_UINT8:
        raise DataError(f"{path}: IDX data type 0x{raw[2]:02x} is not supported (only 0x08, uint8)")
    if ndim is not None and raw[3] != ndim:
        raise DataError(
            f"{path}: magic number 0x{magic:08x}, expected 0x{0x800 + ndim:08x} "
            f"(an IDX file of {ndim} dimension{'s' if ndim > 1 else ''})"
        )
    end = 4 + 4 * raw[3]
    if len(raw) < end:
        raise DataError(f"{path}: header announces {raw[3]} dimensions but the file ends early")
    return struct.unpack(f">{raw[3]}I", raw[4:end])


def _find_idx_files(folder: Path) -> dict[str, Path | None]:
    """Map each of :data:`IDX_FILES` to its file in ``folder`` (plain first, then .gz)."""
    found: dict[str, Path | None] = {}
    for key, name in IDX_FILES.items():
        candidates = [folder / name, folder / f"{name}.gz"]
        found[key] = next((p for p in candidates if p.is_file()), None)
    return found


def _load_idx_dataset(files: dict[str, Path]) -> Arrays:
    """Read the four IDX files of an MNIST-style dataset into the loaders' return format."""
    X_train, y_train = _load_split(files["train_images"], files["train_labels"])
    X_test, y_test = _load_split(files["test_images"], files["test_labels"])
    return X_train, y_train, X_test, y_test


def _load_split(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one images/labels pair and check that they belong together."""
    images = read_idx(images_path, ndim=3)
    labels = read_idx(labels_path, ndim=1)
    if images.shape[1:] != IMAGE_SHAPE:
        h, w = images.shape[1:]
        raise DataError(f"{images_path}: images are {h}x{w}, expected 28x28")
    if len(images) != len(labels):
        raise DataError(
            f"{images_path}: {len(images)} images, but {labels_path} has {len(labels)} labels"
        )
    return _as_features(images), _as_labels(labels, labels_path)


def _as_features(images: np.ndarray) -> np.ndarray:
    """uint8 images of any shape ``(N, ...)`` -> float32 ``(N, 784)`` in [0, 1]."""
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255)


def _as_labels(labels: np.ndarray, source: Path) -> np.ndarray:
    """uint8 labels -> int64, checking that they are digits 0..9."""
    if labels.size and int(labels.max()) >= NUM_CLASSES:
        raise DataError(f"{source}: labels must be 0..9, found {int(labels.max())}")
    return labels.astype(np.int64)


# --------------------------------------------------------------------------- MNIST


def _mnist_raw(root: str | Path) -> Path:
    """The folder torchvision downloads MNIST's IDX files into."""
    return Path(root) / "MNIST" / "raw"


def _missing(found: dict[str, Path | None]) -> list[str]:
    """The names of the files :func:`_find_idx_files` did not find."""
    return [IDX_FILES[key] for key, path in found.items() if path is None]


def _full_mnist_files(root: str | Path) -> dict[str, Path] | None:
    """The four full-MNIST files under ``root``, or None when there are none at all.

    Raises:
        DataError: If only some of the four files are there (an interrupted download).
    """
    raw = _mnist_raw(root)
    found = _find_idx_files(raw)
    missing = _missing(found)
    if len(missing) == len(found):
        return None
    if missing:
        raise DataError(
            f"{raw}: incomplete MNIST, missing {', '.join(missing)} (plain or .gz); "
            "rerun load_mnist(download=True) or delete the folder to use the embedded sample"
        )
    return {key: path for key, path in found.items() if path is not None}


def _sample_file(root: str | Path) -> Path | None:
    """The embedded sample: ``<root>/mnist_sample.npz``, else the repository's copy."""
    for candidate in (Path(root) / SAMPLE_NAME, SAMPLE_PATH):
        if candidate.is_file():
            return candidate
    return None


def mnist_source(root: str | Path = "data") -> Path:
    """Where :func:`load_mnist` would read MNIST from, without reading it.

    Args:
        root: The data folder, as given to :func:`load_mnist`.

    Returns:
        The ``<root>/MNIST/raw`` folder when full MNIST is there, else the sample ``.npz``.

    Raises:
        DataError: If full MNIST is incomplete, or neither it nor the sample can be found.
    """
    if _full_mnist_files(root) is not None:
        return _mnist_raw(root)
    sample = _sample_file(root)
    if sample is None:
        raise DataError(
            f"no MNIST found: neither {_mnist_raw(root)} (full MNIST) nor "
            f"{Path(root) / SAMPLE_NAME} or {SAMPLE_PATH} (embedded sample). "
            "Get the full set with load_mnist(download=True), or build the sample with "
            "`python scripts/build_mnist_sample.py`."
        )
    return sample


def which_mnist(root: str | Path = "data") -> str:
    """``"full"`` or ``"sample"``: which MNIST :func:`load_mnist` would use for ``root``.

    Raises:
        DataError: As :func:`mnist_source`.
    """
    return "sample" if mnist_source(root).suffix == ".npz" else "full"


def load_mnist(root: str | Path = "data", download: bool = False, verbose: bool = True) -> Arrays:
    """Load MNIST: the full 70,000 digits if present (or downloaded), else the embedded sample.

    The first load in a process prints (when ``verbose``) which dataset it is, e.g.
    ``MNIST: embedded 8,000-digit sample (6,800 train / 1,200 test) from data/...``.

    Args:
        root: The data folder. Full MNIST lives in ``<root>/MNIST/raw/`` as torchvision
            lays it out (each file plain or ``.gz``); the sample is ``<root>/mnist_sample.npz``
            or, failing that, the repository's ``data/mnist_sample.npz``.
        download: Fetch full MNIST into ``<root>/MNIST/raw/`` first if it is not there
            (through torchvision when it imports, else straight from :data:`MNIST_MIRROR`
            with md5 checks).
        verbose: Print which dataset is in use (once per process) and download progress.

    Returns:
        ``(X_train, y_train, X_test, y_test)``: X float32 in [0, 1] of shape (N, 784),
        y int64 of shape (N,).

    Raises:
        DataError: If the data is missing, incomplete, corrupt, or fails to download.
    """
    if download and _missing(_find_idx_files(_mnist_raw(root))):
        download_mnist(root, verbose=verbose)
    files = _full_mnist_files(root)
    if files is not None:
        source = _mnist_raw(root)
        arrays = _load_idx_dataset(files)
        kind = "full dataset"
    else:
        source = mnist_source(root)  # the sample, or a DataError saying how to get data
        arrays = _load_sample(source)
        kind = f"embedded {len(arrays[0]) + len(arrays[2]):,}-digit sample"
    _announce(f"MNIST: {kind} ({_split_sizes(arrays)}) from {_display(source)}", verbose)
    return arrays


def _load_sample(path: Path) -> Arrays:
    """Read the embedded sample (uint8 images, integer labels) in the loaders' format."""
    stored = _read_npz(path)
    for split in ("train", "test"):
        images, labels = stored[f"X_{split}"], stored[f"y_{split}"]
        if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != 784:
            raise DataError(
                f"{path}: X_{split} must be uint8 (N, 784), got {images.dtype} {images.shape}"
            )
        if labels.shape != (len(images),):
            raise DataError(
                f"{path}: y_{split} has shape {labels.shape}, expected ({len(images)},)"
            )
    return (
        _as_features(stored["X_train"]),
        _as_labels(stored["y_train"], path),
        _as_features(stored["X_test"]),
        _as_labels(stored["y_test"], path),
    )


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The four arrays of a sample file, turning any read failure into DataError."""
    bad_file = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)
    try:
        loaded = np.load(path, allow_pickle=False)
    except bad_file as exc:
        raise DataError(f"{path}: not a valid .npz file ({exc})") from exc
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: a single .npy array, not an .npz archive")
    with loaded as npz:
        missing = [key for key in SAMPLE_KEYS if key not in npz.files]
        if missing:
            raise DataError(f"{path}: missing arrays {', '.join(missing)}")
        try:
            return {key: npz[key] for key in SAMPLE_KEYS}
        except bad_file as exc:
            raise DataError(f"{path}: corrupt array in the archive ({exc})") from exc


# --------------------------------------------------------------------------- download


def download_mnist(root: str | Path = "data", verbose: bool = True) -> Path:
    """Download full MNIST into ``<root>/MNIST/raw/``.

    Uses ``torchvision.datasets.MNIST(root, download=True)`` when torchvision imports (it
    may not: PyPI's torchvision does not import beside the CPU torch this project pins),
    else fetches the four ``.gz`` files from :data:`MNIST_MIRROR` and checks their md5.

    Args:
        root: The data folder.
        verbose: Print a line per file fetched.

    Returns:
        The ``<root>/MNIST/raw`` folder.

    Raises:
        DataError: If a download fails or a file's md5 is wrong.
    """
    torchvision = _import_torchvision()
    if torchvision is not None:
        if verbose:
            print(f"MNIST: downloading with torchvision into {_mnist_raw(root)}")
        try:
            torchvision.datasets.MNIST(str(root), train=True, download=True)
        except Exception as exc:
            raise DataError(f"torchvision could not download MNIST ({exc})") from exc
        return _mnist_raw(root)
    raw = _mnist_raw(root)
    raw.mkdir(parents=True, exist_ok=True)
    for name, md5 in MNIST_MD5.items():
        dest = raw / name
        if dest.is_file() and _md5(dest) == md5:
            continue
        if verbose:
            print(f"MNIST: downloading {MNIST_MIRROR}{name}")
        _download(MNIST_MIRROR + name, dest, md5)
    return raw


def _import_torchvision() -> ModuleType | None:
    """torchvision if it imports, else None (PyPI's wheel can fail with any exception)."""
    try:
        import torchvision
    except Exception:
        return None
    return torchvision


def _download(url: str, dest: Path, md5: str) -> None:
    """Fetch ``url`` into ``dest`` atomically, checking its md5.

    Raises:
        DataError: If the request fails or the md5 differs (nothing is left at ``dest``).
    """
    part = dest.with_name(dest.name + ".part")
    try:
        with _urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response, part.open("wb") as out:
            shutil.copyfileobj(response, out, _CHUNK)
    except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
        part.unlink(missing_ok=True)
        raise DataError(f"{dest}: could not download {url} ({exc})") from exc
    got = _md5(part)
    if got != md5:
        part.unlink()
        raise DataError(f"{dest}: md5 mismatch for {url}: expected {md5}, got {got}")
    os.replace(part, dest)


def _md5(path: Path) -> str:
    """Hex md5 of a file."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- Fashion-MNIST


def load_fashion_mnist(root: str | Path = FASHION_MNIST_ROOT, verbose: bool = True) -> Arrays:
    """Load Fashion-MNIST from the four IDX files in ``root`` (plain or ``.gz``).

    The default ``root`` is where Debian's ``dataset-fashion-mnist`` package puts
    ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
    ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz``.

    Args:
        root: The folder holding the four files.
        verbose: Print (once per process) which dataset is in use.

    Returns:
        ``(X_train, y_train, X_test, y_test)`` in the format of :func:`load_mnist`.

    Raises:
        DataError: If a file is missing or corrupt.
    """
    root = Path(root)
    found = _find_idx_files(root)
    missing = _missing(found)
    if missing:
        raise DataError(
            f"{root}: Fashion-MNIST not found (missing {', '.join(missing)}, plain or .gz); "
            "install it with `apt-get install dataset-fashion-mnist` or pass root="
        )
    arrays = _load_idx_dataset({key: path for key, path in found.items() if path is not None})
    _announce(f"Fashion-MNIST: {_split_sizes(arrays)} from {_display(root)}", verbose)
    return arrays


# --------------------------------------------------------------------------- messages


def _split_sizes(arrays: Arrays) -> str:
    """``"60,000 train / 10,000 test"``."""
    return f"{len(arrays[0]):,} train / {len(arrays[2]):,} test"


def _display(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it, else as is."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _announce(message: str, verbose: bool) -> None:
    """Print ``message`` to stdout the first time it comes up in this process (if verbose)."""
    if verbose and message not in _ANNOUNCED:
        print(message)
        _ANNOUNCED.add(message)
