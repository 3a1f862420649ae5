#!/usr/bin/env bash
# Check the container's install steps without a Docker engine.
#
# Builds what the NGC PyTorch image starts from -- a fresh virtual environment that
# already has torch, numpy and JupyterLab (at another version than pyproject.toml pins)
# -- then runs the learner image's steps on it exactly as the Dockerfile does
# (docker/learner_tree.sh, docker/install.sh deps / project / role learner) and shows:
#   1. torch, numpy and JupyterLab were not replaced (same version, same files);
#   2. the learner tree imports, and the visible checks pass on the reference code;
#   3. the entrypoint seeds the work folder and starts JupyterLab with a token, and
#      the image's health check (docker/healthcheck.py) passes with it, not without it;
#   4. the instructor role turns nbgrader's formgrader on, the learner role off.
# Usage: scripts/ngc_smoke.sh [WORKDIR]   (a temporary folder when not given)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python3}
IMAGE_SHIPS=${IMAGE_SHIPS:-"torch==2.13.0 numpy==2.3.5 jupyterlab==4.5.6"}
work=${1:-$(mktemp -d -t mgp-ngc-smoke-XXXXXX)}
mkdir -p "$work"
venv="$work/venv"
export PIP_NO_COMPILE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
V="$venv/bin/python"
step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }
fail() { echo "ngc_smoke: FAIL: $*" >&2; exit 1; }

step "a fresh environment with what the image ships: $IMAGE_SHIPS"
"$PY" -m venv "$venv"
# shellcheck disable=SC2086
"$V" -m pip install --quiet $IMAGE_SHIPS
fingerprint() {
    "$V" - <<'PY'
import os, jupyterlab, numpy, torch
for m in (torch, numpy, jupyterlab):
    print(m.__name__, m.__version__, m.__file__, os.stat(m.__file__).st_mtime_ns)
PY
}
before=$(fingerprint)
echo "$before"

step "the learner image's files (docker/learner_tree.sh)"
tree="$work/opt/microgradplus"
rm -rf "$tree"
bash "$ROOT/docker/learner_tree.sh" "$ROOT" "$tree"
for leak in solutions grader/redteam tests; do
    [ ! -e "$tree/$leak" ] || fail "the learner tree holds $leak"
done
[ -z "$(find "$tree/grader/hidden" -name '*.py' ! -name __init__.py)" ] \
    || fail "the learner tree holds hidden checks"

step "the Dockerfile's install steps (docker/install.sh)"
export PYTHON="$V"
grep -E '^\s*(RUN|&&) .*docker/install.sh' "$ROOT/Dockerfile" | sed 's/^/  Dockerfile: /'
bash "$tree/docker/install.sh" deps
bash "$tree/docker/install.sh" project
bash "$tree/docker/install.sh" role learner

step "torch, numpy and JupyterLab untouched"
after=$(fingerprint)
if [ "$before" != "$after" ]; then
    diff <(echo "$before") <(echo "$after") || true
    fail "the image's own packages changed"
fi
echo "unchanged: same versions, same files"
"$V" -m pip check || echo "(pip check reports the above; the kept packages are unchanged)"

step "the labs' smoke tests in the learner environment"
(cd "$work" && "$V" - <<'PY'
import importlib
import micrograd_plus, grader
from grader import check
from grader.check import run_spec
from grader.labs import LABS
from grader.spec import load_lab
from micrograd_plus.value import Value
import torch

a, b = Value(2.0), Value(3.0)
c = a * b + a
c.backward()
ta = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
tb = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
tc = ta * tb + ta
tc.backward()
match = (c.data, a.grad, b.grad) == (tc.item(), ta.grad.item(), tb.grad.item())
print(f"quickstart: c = {c.data}, a.grad = {a.grad}, b.grad = {b.grad}; Match: {match}")
assert match

for name in ("tensor", "ops", "nn", "optim", "data", "train"):
    importlib.import_module(f"micrograd_plus.{name}")
print("micrograd_plus", micrograd_plus.__version__, "imports; torch", torch.__version__)

ran = 0
for lab in LABS.values():
    try:
        specs = load_lab(lab.id)
    except ModuleNotFoundError as exc:
        print(f"{lab.id}: no visible checks in this tree ({exc.name})")
        continue
    assert not any(s.hidden for s in specs), f"{lab.id}: hidden checks in the learner tree"
    modules = [importlib.import_module(f"micrograd_plus.{m}")
               for other in LABS.values() if other.number <= lab.number for m in other.modules]
    modules.append(importlib.import_module("micrograd_plus.data"))
    def find(symbol):
        for module in reversed(modules):
            if hasattr(module, symbol):
                return getattr(module, symbol)
        raise LookupError(symbol)
    if ran:  # every lab's checks load; one lab's run is enough for a smoke test
        print(f"{lab.id}: {len(specs)} visible check(s) load, none hidden")
        continue
    for s in specs:
        outcome = run_spec(s, tuple(find(symbol) for symbol in s.symbols))
        assert outcome.passed, outcome.report()
        ran += 1
    print(f"{lab.id}: {len(specs)} visible check(s) pass on the reference code")
assert ran, "no visible check ran"
print(f"visible checks run: {ran}")
PY
)

step "the entrypoint starts JupyterLab with a token; the health check passes"
port=$("$V" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export MGP_HOME="$tree" MGP_WORK="$work/workspace" MGP_STATE="$work/state" MGP_IP=127.0.0.1 \
       MGP_PORT="$port" HOME="$work/home"
unset JUPYTER_TOKEN
mkdir -p "$HOME"
PATH="$venv/bin:$PATH" setsid bash "$tree/docker/entrypoint.sh" > "$work/jupyter.log" 2>&1 &
server=$!
trap 'kill -TERM -- "-$server" 2>/dev/null || true' EXIT
healthy=""
for _ in $(seq 1 90); do
    if "$V" "$tree/docker/healthcheck.py" >/dev/null 2>&1; then healthy=1; break; fi
    kill -0 "$server" 2>/dev/null || break
    sleep 1
done
if [ -z "$healthy" ]; then cat "$work/jupyter.log"; fail "JupyterLab did not become healthy"; fi
"$V" "$tree/docker/healthcheck.py"
grep -m1 "MicroGrad+ JupyterLab: open" "$work/jupyter.log" | sed 's/token=.*/token=<generated>/'
token=$(cat "$MGP_STATE/jupyter-token")
[ "${#token}" -ge 32 ] || fail "the generated token is too short: ${#token} characters"
if JUPYTER_TOKEN=wrong "$V" "$tree/docker/healthcheck.py" >/dev/null; then
    fail "the server answered a wrong token"
fi
echo "a wrong token is refused"
seeded=$(find "$MGP_WORK/labs" -name '*.ipynb' 2>/dev/null | wc -l)
shipped=$(find "$tree/labs" -name '*.ipynb' 2>/dev/null | wc -l)
[ "$seeded" -eq "$shipped" ] || fail "work folder has $seeded notebooks, the image $shipped"
echo "work folder seeded with $seeded lab notebook(s)"
kill -TERM -- "-$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
trap - EXIT

step "nbgrader's formgrader: off for learners, on for instructors"
extensions() { "$V" -m jupyter server extension list 2>&1 | grep -A0 "formgrader " || true; }
extensions | grep -q disabled || fail "formgrader is enabled in the learner role"
bash "$tree/docker/install.sh" role instructor
extensions | grep -q enabled || fail "formgrader is not enabled in the instructor role"
"$V" - <<'PY' || fail "nbgrader does not read the instructor's course folder"
from nbgrader.apps.baseapp import NbGrader
app = NbGrader()
app.load_config_file()  # as formgrader does: Jupyter's config path, then the working folder
root = app.config.CourseDirectory.root
assert str(root).endswith("build/course"), root
print("formgrader's course folder:", root)
PY
echo "learner: formgrader disabled; instructor: formgrader enabled"

step "ngc_smoke: OK"
