#!/usr/bin/env bash
# `make gpu-check`: on a CUDA host, run the solution notebooks (lab 1.7.5 compares with
# PyTorch on the GPU when CUDA is available) and the MLP benchmark, print the device
# used, and finish within GPU_CHECK_BUDGET seconds (default 285, under 5 minutes).
# Without CUDA it says so and exits 0; GPU_CHECK_CPU=1 runs the same steps on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${PYTHON:-}" ]; then :; elif [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
BUDGET=${GPU_CHECK_BUDGET:-285}
deadline=$((SECONDS + BUDGET))
left() { echo $((deadline - SECONDS)); }

device=$("$PYTHON" - <<'PY'
import torch
if torch.cuda.is_available():
    i = torch.cuda.current_device()
    a = torch.randn(512, 512, dtype=torch.float64)
    same = torch.allclose((a.cuda(i) @ a.cuda(i)).cpu(), a @ a, rtol=1e-10, atol=1e-10)
    print(f"cuda:{i} ({torch.cuda.get_device_name(i)}), torch {torch.__version__}, "
          f"CUDA {torch.version.cuda}; float64 matmul matches the CPU: {same}")
else:
    print(f"cpu (torch {torch.__version__}: CUDA is not available)")
PY
)
echo "Device: $device"
if [[ "$device" != cuda* ]] && [ -z "${GPU_CHECK_CPU:-}" ]; then
    echo "gpu-check: no CUDA device on this host, so there is nothing GPU-specific to check."
    echo "  Run it inside the NGC container on a GPU host (docker run --gpus all ...), or"
    echo "  set GPU_CHECK_CPU=1 to run the same notebooks and benchmark on the CPU."
    exit 0
fi

status=0
echo
echo "== solution notebooks (nbval, $(left) s left)"
if ls solutions/*.ipynb >/dev/null 2>&1; then
    MPLBACKEND=Agg timeout "$(left)" "$PYTHON" -m pytest -p no:cacheprovider -q \
        --nbval-lax --nbval-current-env --nbval-cell-timeout=240 solutions/ || status=$?
else
    echo "no solution notebooks yet"
fi

echo
echo "== benchmark (benchmarks/mnist_mlp.py, $(left) s left)"
if [ ! -f benchmarks/mnist_mlp.py ]; then
    echo "benchmarks/mnist_mlp.py is not there yet: skipped"
elif ! "$PYTHON" -c "
from micrograd_plus import data
full = data.which_mnist('data') == 'full'
try:
    fashion = bool(data.load_fashion_mnist(verbose=False))
except Exception:
    fashion = False
raise SystemExit(0 if full or fashion else 1)" 2>/dev/null; then
    echo "skipped: the speed run needs 60,000 images, full MNIST in data/MNIST/raw"
    echo "  (python -c 'from micrograd_plus.data import load_mnist; load_mnist(download=True)')"
    echo "  or Fashion-MNIST (Debian package dataset-fashion-mnist)"
elif [ "$(left)" -gt 20 ]; then
    timeout "$(left)" "$PYTHON" benchmarks/mnist_mlp.py --repeats 1 --threads "$(nproc)" \
        || status=$?
else
    echo "skipped: the time budget is spent"; status=1
fi

echo
echo "Device used: $device"
if [ "$status" -eq 124 ]; then
    echo "gpu-check: FAILED: over the ${BUDGET} s budget"
elif [ "$status" -ne 0 ]; then
    echo "gpu-check: FAILED (exit $status)"
else
    echo "gpu-check: OK in ${SECONDS} s"
fi
exit "$status"
