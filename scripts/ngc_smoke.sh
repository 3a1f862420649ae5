#!/usr/bin/env bash
# Check the container's install steps without a Docker engine, on simulated NGC images.
#
# Each simulated image is a fresh virtual environment built the way the NGC PyTorch image
# is: the packages it ships, and a pip constraints file (PIP_CONSTRAINT, as NGC images set
# it since 25.03) pinning them. The learner image's steps then run on it exactly as the
# Dockerfile runs them (docker/install.sh deps from the image's own folder, PIP_CONSTRAINT
# pointed at the edited copy, docker/learner_tree.sh, docker/install.sh project TREE and
# role learner) and show:
#   1. torch and numpy were not replaced (same version, same files), nor the Jupyter stack
#      when it can host nbgrader; one that cannot is replaced by pyproject.toml's pins, and
#      only the pins it must replace are lifted from the constraints (torch's never);
#   2. the learner tree imports, and the visible checks pass on the reference code;
#   3. the entrypoint seeds the work folder and starts JupyterLab with a token; the image's
#      health check passes with it, not without it; JupyterLab 4 serves the labs, with
#      nbgrader's Validate button (its server extension answers) and no formgrader;
#   4. the instructor role turns formgrader on (served, reading the course folder).
#
# The images (NGC_IMAGES picks some; all by default):
#   jupyterlab2  what NGC images shipped from 21.10 to at least 24.04 -- JupyterLab 2.3.2,
#                notebook 6.4.10 and their contemporary Jupyter packages -- with numpy
#                1.26.4, every package pinned in the constraints file (as from 25.03);
#   jupyterlab4  a current JupyterLab 4.5 and numpy 2.3, with an empty constraints file
#                (as NGC images have it from about 25.10).
# IMAGE_SHIPS="torch==2.13.0 numpy==... jupyterlab==..." simulates another image instead
# (IMAGE_KEEPS: the modules that must stay, default "torch numpy"; IMAGE_PINNED=0 for an
# empty constraints file). Python: PYTHON (default python3), 3.11 or 3.12.
# Both images install from one pip cache (pip's own, unless PIP_CACHE_DIR says otherwise):
# torch==2.13.0 comes from the local CPU wheel where pip's find-links has one.
#
# Usage: scripts/ngc_smoke.sh [WORKDIR]   (a temporary folder when not given)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python3}
work=${1:-$(mktemp -d -t mgp-ngc-smoke-XXXXXX)}
mkdir -p "$work"
export PIP_NO_COMPILE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
unset PIP_NO_CACHE_DIR PIP_CONSTRAINT JUPYTER_TOKEN
step() { printf '\n== %s%s (%ss)\n' "${image:+$image: }" "$1" "$SECONDS"; }
fail() { echo "ngc_smoke: ${image:-}: FAIL: $*" >&2; exit 1; }
# pip's output without its warnings about index folders that lack a package.
quiet() { grep -v 'is ignored: it is neither a file nor a directory' || true; }

declare -A SHIPS=(
    [jupyterlab2]="torch==2.13.0 numpy==1.26.4 jupyterlab==2.3.2 notebook==6.4.10
                   jupyter-client==7.4.8 traitlets==5.7.1 ipykernel==6.19.2"
    [jupyterlab4]="torch==2.13.0 numpy==2.3.5 jupyterlab==4.5.6"
)
declare -A KEEPS=([jupyterlab2]="torch numpy" [jupyterlab4]="torch numpy jupyterlab")
declare -A PINNED=([jupyterlab2]=1 [jupyterlab4]=0)
if [ -n "${IMAGE_SHIPS:-}" ]; then
    SHIPS=([custom]="$IMAGE_SHIPS")
    KEEPS=([custom]="${IMAGE_KEEPS:-torch numpy}")
    PINNED=([custom]="${IMAGE_PINNED:-1}")
    NGC_IMAGES=custom
fi

# One simulated image, in its own folder $work/$image (run in a subshell: it exports).
smoke() {
    image=$1
    local dir="$work/$image" venv="$work/$image/venv" keeps=${KEEPS[$1]}
    V="$venv/bin/python"
    rm -rf "$dir"
    mkdir -p "$dir/etc/pip"

    step "a fresh environment with what the image ships: $(echo ${SHIPS[$1]})"
    "$PY" -m venv "$venv"
    # shellcheck disable=SC2086
    "$V" -m pip install --quiet ${SHIPS[$1]} 2>&1 | quiet
    local constraint="$dir/etc/pip/constraint.txt"
    if [ "${PINNED[$1]}" = 1 ]; then
        "$V" -m pip freeze --all --exclude pip --exclude setuptools > "$constraint"
    else
        : > "$constraint"
    fi
    echo "PIP_CONSTRAINT=$constraint pins $(grep -c . "$constraint" || true) package(s)"
    export PIP_CONSTRAINT="$constraint"
    before=$(fingerprint "$keeps")
    echo "$before"

    step "the Dockerfile's install steps (docker/install.sh) and the learner's tree"
    # As the Dockerfile lays them out: the image's own files in MGP_IMAGE, the learner's
    # tree (docker/learner_tree.sh, after the dependencies) in MGP_HOME.
    own="$dir/opt/microgradplus-image" tree="$dir/opt/microgradplus"
    mkdir -p "$own/scripts"
    cp "$ROOT/pyproject.toml" "$own/"
    cp "$ROOT/scripts/keep_installed.py" "$own/scripts/"
    cp -R "$ROOT/docker" "$own/docker"
    export PYTHON="$V" MGP_PIP_CONSTRAINT="$dir/etc/pip/constraint-microgradplus.txt"
    grep -E '^\s*(RUN|&&) .*docker/(install|learner_tree).sh' "$ROOT/Dockerfile" \
        | sed 's/^/  Dockerfile: /'
    bash "$own/docker/install.sh" deps 2>&1 | quiet
    # The Dockerfile's `ENV PIP_CONSTRAINT=${MGP_PIP_CONSTRAINT}` after this step.
    export PIP_CONSTRAINT="$MGP_PIP_CONSTRAINT"
    bash "$ROOT/docker/learner_tree.sh" "$ROOT" "$tree"
    for leak in solutions grader/redteam tests docker pyproject.toml micrograd_plus/train.py; do
        [ ! -e "$tree/$leak" ] || fail "the learner tree holds $leak"
    done
    [ -z "$(find "$tree/grader/checking/hidden" -name '*.py' ! -name __init__.py)" ] \
        || fail "the learner tree holds hidden checks"
    bash "$own/docker/install.sh" project "$tree"
    bash "$own/docker/install.sh" role learner

    step "the kept packages untouched, the Jupyter stack able to host nbgrader"
    after=$(fingerprint "$keeps")
    if [ "$before" != "$after" ]; then
        diff <(echo "$before") <(echo "$after") || true
        fail "the image's own packages changed"
    fi
    echo "unchanged: same versions, same files ($keeps)"
    [ -z "$("$V" "$own/scripts/keep_installed.py" --replacing)" ] \
        || fail "the Jupyter stack still cannot host nbgrader"
    "$V" -m pip list 2>/dev/null | grep -iE '^(jupyterlab|notebook|jupyter.server|nbgrader) '
    check_constraints "$constraint" "$PIP_CONSTRAINT"
    "$V" -m pip check || echo "(pip check reports the above; the kept packages are unchanged)"

    step "the labs' smoke tests in the learner environment"
    (cd "$dir" && "$V" - <<'PY'
import importlib, importlib.util
import micrograd_plus, grader
from grader import check
from grader.checking.check import run_spec
from grader.labs import LABS
from grader.checking.spec import load_lab
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

for name in ("tensor", "ops", "nn", "optim", "data"):
    importlib.import_module(f"micrograd_plus.{name}")
assert importlib.util.find_spec("micrograd_plus.train") is None, "lab 1.7.5's answer shipped"
print("micrograd_plus", micrograd_plus.__version__, "imports; torch", torch.__version__)

ran = 0
for lab in LABS.values():
    try:
        specs = load_lab(lab.id)
    except ModuleNotFoundError as exc:
        print(f"{lab.id}: no visible checks in this tree ({exc.name})")
        continue
    assert not any(s.hidden for s in specs), f"{lab.id}: hidden checks in the learner tree"
    if ran:  # every lab's checks load; one lab's run is enough for a smoke test
        print(f"{lab.id}: {len(specs)} visible check(s) load, none hidden")
        continue
    # The first lab's checks on its reference (a learner's tree holds every lab's but the last's).
    modules = [importlib.import_module(f"micrograd_plus.{m}")
               for other in LABS.values() if other.number <= lab.number for m in other.modules]
    modules.append(importlib.import_module("micrograd_plus.data"))
    def find(symbol):
        for module in reversed(modules):
            if hasattr(module, symbol):
                return getattr(module, symbol)
        raise LookupError(symbol)
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
    export MGP_HOME="$tree" MGP_WORK="$dir/workspace" MGP_STATE="$dir/state" MGP_IP=127.0.0.1 \
           HOME="$dir/home" MGP_ROLE=learner
    mkdir -p "$HOME"
    serve
    "$V" "$own/docker/healthcheck.py"
    grep -m1 "MicroGrad+ JupyterLab: open" "$dir/jupyter.log" | sed 's/token=.*/token=<generated>/'
    token=$(cat "$MGP_STATE/jupyter-token")
    [ "${#token}" -ge 32 ] || fail "the generated token is too short: ${#token} characters"
    if JUPYTER_TOKEN=wrong "$V" "$own/docker/healthcheck.py" >/dev/null; then
        fail "the server answered a wrong token"
    fi
    echo "a wrong token is refused"
    seeded=$(find "$MGP_WORK/labs" -name '*.ipynb' 2>/dev/null | wc -l)
    shipped=$(find "$tree/labs" -name '*.ipynb' 2>/dev/null | wc -l)
    [ "$seeded" -eq "$shipped" ] || fail "work folder has $seeded notebooks, the image $shipped"
    echo "work folder seeded with $seeded lab notebook(s)"
    probe learner "$seeded" || fail "JupyterLab does not serve the learner's labs and tools"
    stop

    step "nbgrader's formgrader: off for learners (above), on for instructors"
    bash "$own/docker/install.sh" role instructor
    (cd "$dir" && "$V" - <<'PY') || fail "nbgrader does not read the instructor's course folder"
from nbgrader.apps.baseapp import NbGrader
app = NbGrader()
app.load_config_file()  # as formgrader does: Jupyter's config path, then the working folder
root = app.config.CourseDirectory.root
assert str(root).endswith("build/course"), root
print("formgrader's course folder:", root)
PY
    export MGP_ROLE=instructor
    serve
    probe instructor "$seeded" || fail "JupyterLab does not serve the instructor's formgrader"
    stop
    echo "learner: formgrader disabled; instructor: formgrader enabled"
    step "OK"
}

# Version, file and modification time of each module named in $1.
fingerprint() {
    "$V" - "$1" <<'PY'
import importlib, os, sys
for name in sys.argv[1].split():
    m = importlib.import_module(name)
    print(m.__name__, m.__version__, m.__file__, os.stat(m.__file__).st_mtime_ns)
PY
}

# The edited constraints ($2) keep every pin of the image's ($1) but the lifted ones,
# each lifted pin is marked, and torch's pin is the image's.
check_constraints() {
    "$V" - "$1" "$2" <<'PY' || fail "the edited constraints do not keep the image's pins"
import re, sys
image = [l for l in open(sys.argv[1]).read().splitlines() if l.strip()]
edited = open(sys.argv[2]).read().splitlines()
lifted = [l.split(": ", 1)[1].split(" (")[0] for l in edited if l.startswith("# lifted by")]
missing = [l for l in image if l not in edited and l not in lifted]
assert not missing, f"pins dropped without a mark: {missing}"
torch = [l for l in image if re.match(r"torch==", l)]
assert all(l in edited for l in torch), f"torch's pin was edited: {torch}"
assert not any(re.match(r"(torch|numpy|triton|torchvision)==", l) for l in lifted), lifted
print(f"constraints: {len(image)} pin(s) of the image, {len(lifted)} lifted: "
      + (", ".join(lifted) or "none"))
PY
}

# Start the image's entrypoint (JupyterLab) in the background; wait until it is healthy.
serve() {
    MGP_PORT=$("$V" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    export MGP_PORT
    PATH="$venv/bin:$PATH" setsid bash "$own/docker/entrypoint.sh" > "$dir/jupyter.log" 2>&1 &
    server=$!
    trap 'kill -TERM -- "-$server" 2>/dev/null || true' EXIT
    local _
    for _ in $(seq 1 90); do
        if "$V" "$own/docker/healthcheck.py" >/dev/null 2>&1; then return 0; fi
        kill -0 "$server" 2>/dev/null || break
        sleep 1
    done
    cat "$dir/jupyter.log"
    fail "JupyterLab did not become healthy"
}

stop() {
    kill -TERM -- "-$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    trap - EXIT
}

# What the running JupyterLab serves, asked with the token as a browser would: $1 the role,
# $2 how many lab notebooks the work folder holds.
probe() {
    "$V" - "$@" <<'PY'
import json, os, re, sys, urllib.error, urllib.request
role, notebooks = sys.argv[1], int(sys.argv[2])
token = open(os.path.join(os.environ["MGP_STATE"], "jupyter-token")).read().strip()

def get(path, token=token):
    headers = {"Authorization": f"token {token}"} if token else {}
    url = f"http://127.0.0.1:{os.environ['MGP_PORT']}{path}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=20) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""

status, page = get("/lab/tree/labs")
assert status == 200, f"/lab/tree/labs: HTTP {status}"
data = re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', page, re.S)
config = json.loads(data.group(1))
assert config["appVersion"].startswith("4."), config["appVersion"]
federated = {e["name"] for e in config.get("federated_extensions", [])}
assert "@jupyter/nbgrader" in federated, sorted(federated)
disabled = set(config.get("disabledExtensions", []))
assert "@jupyter/nbgrader:validate-assignment" not in disabled, disabled
assert ("@jupyter/nbgrader:formgrader" in disabled) == (role == "learner"), disabled
print(f"JupyterLab {config['appVersion']} serves /lab with nbgrader's lab extension;"
      f" disabled: {', '.join(sorted(disabled)) or 'none'}")

status, body = get("/api/contents/labs")
assert status == 200, f"/api/contents/labs: HTTP {status}"
listed = [c["name"] for c in json.loads(body)["content"] if c["name"].endswith(".ipynb")]
assert len(listed) == notebooks, listed
assert get("/api/contents/labs", token="")[0] in (401, 403), "the labs are served without a token"
print(f"the labs ({len(listed)} notebooks) are served with the token, refused without it")

from nbgrader import __version__ as nbgrader_version
status, body = get(f"/nbgrader_version?version={nbgrader_version}")
assert status == 200 and json.loads(body)["success"], (status, body)
print(f"Validate: nbgrader {nbgrader_version}'s validate_assignment server extension answers")
status, _ = get("/formgrader")
assert (status == 200) == (role == "instructor"), f"/formgrader: HTTP {status} ({role})"
print(f"formgrader: HTTP {status} ({'served' if status == 200 else 'off'})")
PY
}

for image in ${NGC_IMAGES:-jupyterlab2 jupyterlab4}; do
    [ -n "${SHIPS[$image]:-}" ] || fail "no simulated image named $image (${!SHIPS[*]})"
    (smoke "$image")
done
image=""
step "ngc_smoke: OK (${NGC_IMAGES:-jupyterlab2 jupyterlab4})"
