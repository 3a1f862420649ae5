"""MicroGrad+ vs PyTorch on the CPU: one epoch of a 784-256-128-10 ReLU MLP.

Both frameworks train the same network from the same initial weights on the
same batches (128, Adam 1e-3), in this one process with the same number of
threads, in interleaved runs: MicroGrad+ with its own ``train.train_epoch``,
PyTorch with the usual loop. Trains the same MLP with MicroGrad+ on the
embedded MNIST sample and reports its test accuracy (``--skip-accuracy`` to
leave it out), optionally profiles one MicroGrad+ epoch (``--profile``), and
prints the speed figures last: seconds per epoch for each, their ratio, and
peak memory above each run's start.

    python benchmarks/mnist_mlp.py [--repeats 3] [--threads 2] [--epochs 20] [--profile]

Data for the speed run: full MNIST when data/MNIST/raw holds it, otherwise
Fashion-MNIST from Debian's ``dataset-fashion-mnist`` (same size and format), otherwise
the committed MNIST sample's training split tiled to 60,000 images (the same shapes and
arithmetic, so the same speed; only the accuracy run needs real data). The first line of
the figures says which.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SIZES = (784, 256, 128, 10)


def set_threads(n: int) -> None:
    """Same thread count for numpy's BLAS and torch (before either starts its pool)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)


SPEED_IMAGES = 60_000


def speed_data(root: Path) -> tuple[str, np.ndarray, np.ndarray]:
    """60,000 training images: full MNIST, else Fashion-MNIST, else the sample tiled."""
    from micrograd_plus import data

    if data.which_mnist(root) == "full":
        X, y, _, _ = data.load_mnist(root, verbose=False)
        return "MNIST (full)", X, y
    if Path(data.FASHION_MNIST_ROOT).is_dir():
        X, y, _, _ = data.load_fashion_mnist(verbose=False)
        return "Fashion-MNIST (Debian dataset-fashion-mnist)", X, y
    X, y, _, _ = data.load_mnist(root, verbose=False)
    n, reps = len(X), -(-SPEED_IMAGES // len(X))
    X, y = np.tile(X, (reps, 1))[:SPEED_IMAGES], np.tile(y, reps)[:SPEED_IMAGES]
    return f"the MNIST sample's {n} training images tiled to {len(X)}", X, y


def initial_weights(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """PyTorch-default-style U(-1/sqrt(in), 1/sqrt(in)) weights, float32."""
    rng = np.random.default_rng(seed)
    layers = []
    for n_in, n_out in itertools.pairwise(SIZES):
        k = 1 / np.sqrt(n_in)
        w = rng.uniform(-k, k, (n_out, n_in)).astype(np.float32)
        b = rng.uniform(-k, k, n_out).astype(np.float32)
        layers.append((w, b))
    return layers


def micrograd_epoch(weights, X, y, batch):  # type: ignore[no-untyped-def]
    """One epoch with MicroGrad+'s own loop (``train.train_epoch``), batches in row order."""
    from micrograd_plus import nn, optim, train

    layers: list[nn.Module] = []
    for i, (w, b) in enumerate(weights):
        lin = nn.Linear(w.shape[1], w.shape[0])
        lin.weight.data[...] = w
        lin.bias.data[...] = b  # type: ignore[union-attr]
        layers.append(lin)
        if i < len(weights) - 1:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    loader = train.DataLoader(X, y, batch_size=batch, shuffle=False)

    def run() -> float:
        return train.train_epoch(model, loader, opt)

    return run


def torch_epoch(weights, X, y, batch):  # type: ignore[no-untyped-def]
    """One epoch of the usual PyTorch loop over the same batches (each one copied out)."""
    import torch

    layers: list[torch.nn.Module] = []
    for i, (w, b) in enumerate(weights):
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if i < len(weights) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    rows = torch.arange(len(X))

    def run() -> float:
        model.train()
        total = 0.0
        for start in range(0, len(X), batch):
            idx = rows[start : start + batch]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        return total / len(X)

    return run


def _status_mib(field: str) -> float:
    """A memory figure of this process from /proc/self/status, in MiB (nan elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def peak_rss_during(fn: Callable[[], float]) -> tuple[float, float, float]:
    """(seconds, last loss, peak resident memory above the start in MiB) of one call."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark (Linux)
    except OSError:
        pass
    base = _status_mib("VmRSS")
    start = time.perf_counter()
    loss = fn()
    seconds = time.perf_counter() - start
    return seconds, loss, _status_mib("VmHWM") - base


PROFILE_PARTS = {
    "matrix products of linear, forward": ("nn.py", "linear"),
    "matrix products of linear, backward": ("nn.py", "_backward"),
    "optimizer step": ("optim.py", "step"),
    "optimizer zero_grad": ("optim.py", "zero_grad"),
    "freeing each step's graph (gc.collect)": ("~", "<built-in method gc.collect>"),
}


def profile_shares(run: Callable[[], float]) -> list[tuple[str, float]]:
    """Shares of one epoch's time (cProfile), for the parts in PROFILE_PARTS and the rest.

    A part's share is the cumulative time of its function (``linear``'s own time:
    its matrix products and bias, the graph node aside); the rest is every other
    operation, the graph bookkeeping and ``backward``'s walk.
    """
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(run)
    stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = max(ct for _, _, _, ct, _ in stats.values())
    shares = []
    for label, (filename, function) in PROFILE_PARTS.items():
        seconds = sum(
            (tt if function == "linear" else ct)
            for (path, _, name), (_, _, tt, ct, _) in stats.items()
            if name == function
            and (path == filename or path.endswith(f"micrograd_plus/{filename}"))
        )
        shares.append((label, seconds / total))
    shares.append(("everything else", 1 - sum(share for _, share in shares)))
    return shares


def accuracy_run(epochs: int, seed: int) -> None:
    from micrograd_plus import data, nn, optim, train

    X_train, y_train, X_test, y_test = data.load_mnist(REPO / "data", verbose=False)
    nn.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
    )
    opt = optim.Adam(model.parameters(), lr=1e-3)
    loader = train.DataLoader(X_train, y_train, batch_size=128, seed=seed)
    source = data.which_mnist(REPO / "data")
    best, start = 0.0, time.perf_counter()
    for epoch in range(1, epochs + 1):
        train.train_epoch(model, loader, opt)
        _, acc = train.evaluate(model, X_test, y_test)
        best = max(best, acc)
        print(f"  epoch {epoch:2d}: test accuracy {acc:.4f}")
    print(
        f"accuracy: {acc:.4f} after {epochs} epochs (best {best:.4f}) on the MNIST {source} "
        f"test split ({len(y_test)} images), {time.perf_counter() - start:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per framework")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=20, help="epochs of the accuracy run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--profile", action="store_true", help="profile one MicroGrad+ epoch")
    args = parser.parse_args()

    set_threads(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    name, X, y = speed_data(REPO / "data")
    order = np.random.default_rng(args.seed).permutation(len(X))
    X, y = X[order], y[order]  # one shuffle, the same batches for both
    weights = initial_weights(args.seed)
    runs = {
        "micrograd_plus": micrograd_epoch(weights, X, y, args.batch),
        "pytorch": torch_epoch(weights, X, y, args.batch),
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    peaks: dict[str, float] = {}
    for round_ in range(args.repeats):  # interleaved, so drifts in machine load hit both
        for key, run in runs.items():
            seconds, _, peak = peak_rss_during(run)
            times[key].append(seconds)
            peaks[key] = max(peaks.get(key, 0.0), peak)
        print(
            f"round {round_ + 1}: " + ", ".join(f"{k} {t[-1]:.3f} s" for k, t in times.items()),
            flush=True,
        )
    if not args.skip_accuracy:
        accuracy_run(args.epochs, args.seed)
    if args.profile:
        print("where one MicroGrad+ epoch's time goes (cProfile):")
        for label, share in profile_shares(micrograd_epoch(weights, X, y, args.batch)):
            print(f"  {label:40s} {share:6.1%}")
    print(f"data: {name}, {len(X)} images, batch {args.batch}, Adam, {args.threads} threads")
    print(f"numpy {np.__version__}, torch {torch.__version__}, python {sys.version.split()[0]}")
    for key in runs:
        print(
            f"{key:15s} median {statistics.median(times[key]):.3f} s/epoch "
            f"(runs: {', '.join(f'{t:.3f}' for t in times[key])}), "
            f"peak memory +{peaks[key]:.0f} MiB"
        )
    ratio = statistics.median(times["micrograd_plus"]) / statistics.median(times["pytorch"])
    memory = peaks["micrograd_plus"] / max(peaks["pytorch"], 1.0)
    print(f"memory micrograd_plus / pytorch: {memory:.2f}x")
    print(f"ratio micrograd_plus / pytorch: {ratio:.2f}x")


if __name__ == "__main__":
    main()
