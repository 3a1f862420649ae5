#!/usr/bin/env bash
# Build the Dockerfile's two targets with buildah (no Docker engine) on a stand-in NGC
# base (scripts/fake_ngc_base.sh), then check each image from inside and from outside:
#   1. the learner image: its /opt/microgradplus is exactly what a learner gets
#      (grader/assign/learner_tree.py's learner_files(), which the lab bundles and the
#      hub's learner tree use too), file for file and byte for byte; nothing of
#      solutions/, the hidden checks, the grading set or the grading tools is anywhere in
#      the image, and its torch and numpy are the base's, file for file;
#   2. the instructor image grades a small batch with bubblewrap (isolation: full);
#   3. JupyterLab started through each image's entrypoint answers the image's own health
#      check, wants the token, serves the labs (nbgrader's Validate for learners,
#      formgrader for instructors), probed from the host on 127.0.0.1;
#   4. the learner's work volume is seeded on first start; a lab added to the image later
#      is copied in on the next start, and an edited notebook is left as it is.
# The Dockerfile and its build arguments are used as they are. Skips (exit 0, with the
# reason) where buildah, debootstrap or runc is missing, or without root.
#
# Usage: scripts/image_check.sh
# Environment: MGP_IMAGE_CACHE (default /var/tmp/microgradplus-image: buildah's storage,
# where the stand-in base stays between runs), MGP_IMAGE_LOGS (default build/image-check:
# the build logs), MGP_STORAGE_DRIVER (overlay where the kernel mounts it, else vfs;
# with overlay the two builds share the base stage's cached steps),
# MGP_IMAGE_KEEP=1 keeps the built images and containers.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
skip() { echo "image_check: SKIPPED: $*"; exit 0; }
fail() { echo "image_check: FAIL: $*" >&2; exit 1; }
step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }
command -v buildah >/dev/null || skip "buildah is not installed (scripts/install_system_deps.sh installs it)"
PATH=$PATH:/usr/sbin:/sbin
command -v debootstrap >/dev/null || skip "debootstrap is not installed (scripts/install_system_deps.sh installs it)"
command -v runc >/dev/null || skip "runc is not installed (scripts/install_system_deps.sh installs it)"
[ "$(id -u)" -eq 0 ] || skip "needs root (buildah's local storage and chroot isolation)"

CACHE=${MGP_IMAGE_CACHE:-/var/tmp/microgradplus-image}
LOGS=${MGP_IMAGE_LOGS:-$ROOT/build/image-check}
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=python3
# overlay where this kernel mounts it (a build step then costs its own files), else vfs
# (every layer and working container a full copy of the image).
overlay_works() {
    local t ok=1
    t=$(mktemp -d) && mkdir "$t/l" "$t/u" "$t/w" "$t/m"
    if mount -t overlay overlay -o "lowerdir=$t/l,upperdir=$t/u,workdir=$t/w" "$t/m" 2>/dev/null; then
        umount "$t/m"; ok=0
    fi
    rm -rf "$t"
    return $ok
}
if [ -z "${MGP_STORAGE_DRIVER:-}" ]; then
    if overlay_works; then MGP_STORAGE_DRIVER=overlay; else MGP_STORAGE_DRIVER=vfs; fi
fi
LAYERS=()  # under vfs each cached step would be another full copy
[ "$MGP_STORAGE_DRIVER" = overlay ] && LAYERS=(--layers)
export MGP_IMAGE_CACHE=$CACHE MGP_STORAGE_DRIVER
BUILDAH=(buildah --root "$CACHE/$MGP_STORAGE_DRIVER/storage" --runroot "$CACHE/$MGP_STORAGE_DRIVER/run"
         --storage-driver "$MGP_STORAGE_DRIVER")
RUN=("${BUILDAH[@]}" run --isolation chroot)
LEARNER=localhost/microgradplus-check:learner
INSTRUCTOR=localhost/microgradplus-check:instructor
mkdir -p "$LOGS"
work=$(mktemp -d -t mgp-image-check-XXXXXX)
containers=()
servers=()
ENTRY=()
HEALTH=()

cleanup() {
    local pid ctr
    for pid in "${servers[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    if [ "${MGP_IMAGE_KEEP:-0}" != 1 ]; then
        for ctr in "${containers[@]}"; do "${BUILDAH[@]}" rm "$ctr" >/dev/null 2>&1 || true; done
        "${BUILDAH[@]}" rmi "$LEARNER" "$INSTRUCTOR" >/dev/null 2>&1 || true
        "${BUILDAH[@]}" rmi --prune >/dev/null 2>&1 || true  # the build stages' images
    fi
    rm -rf "$work"
    echo "image_check: buildah storage now $(du -sh "$CACHE" 2>/dev/null | cut -f1) ($CACHE)"
}
trap cleanup EXIT

# A working container of image $1 (more options for `buildah from` after it), mounted:
# sets CTR and MNT.
open_image() {
    CTR=$("${BUILDAH[@]}" from --pull-never "${@:2}" "$1")
    containers+=("$CTR")
    MNT=$("${BUILDAH[@]}" mount "$CTR")
}

# Build target $1 of the Dockerfile into image $2, the log in $LOGS/$1.log.
build() {
    local t0=$SECONDS
    if ! "${BUILDAH[@]}" bud --format docker --isolation chroot --pull-never "${LAYERS[@]}" --target "$1" \
            -t "$2" -f Dockerfile . > "$LOGS/$1.log" 2>&1; then
        tail -40 "$LOGS/$1.log"
        fail "buildah bud --target $1 failed (log: $LOGS/$1.log)"
    fi
    echo "built $2 in $((SECONDS - t0)) s (log: $LOGS/$1.log)"
    grep -E '^(Keeping|Replacing|Lifting|Installing|nbgrader extensions|MicroGrad\+|learner tree)' \
        "$LOGS/$1.log" | sed 's/^/  /' || true
}

step "the stand-in NGC base (scripts/fake_ngc_base.sh; $MGP_STORAGE_DRIVER storage in $CACHE)"
bash scripts/fake_ngc_base.sh
BASE="nvcr.io/nvidia/pytorch:$(sed -n 's/^ARG NGC_TAG=//p' Dockerfile)-py3"

step "buildah bud --target learner"
build learner "$LEARNER"
step "buildah bud --target instructor"
build instructor "$INSTRUCTOR"

# --- 1. the learner image's files, torch and numpy ------------------------------------
step "the learner image's tree is the definition of what a learner gets, no more, no less"
open_image "$LEARNER"; lctr=$CTR lmnt=$MNT
open_image "$BASE"; bmnt=$MNT
PYTHONPATH="$ROOT" "$PY" - "$lmnt" "$ROOT" <<'PY' || fail "the learner image's files"
"""Compare the image's /opt/microgradplus with grader/assign/learner_tree.py's definition."""
import hashlib, sys
from pathlib import Path
from grader.assign.bundle import bundle_files
from grader.assign.learner_tree import INSTRUCTOR_ONLY, learner_files
from grader.labs import LABS

image, repo = Path(sys.argv[1]), Path(sys.argv[2])
home = image / "opt" / "microgradplus"
expected = learner_files(repo)
found = {p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file() or p.is_symlink()}
extra, missing = sorted(found - set(expected)), sorted(set(expected) - found)
for f in extra: print("  in the image, not in the definition (learner_files):", f)
for f in missing: print("  in the definition (learner_files), not in the image:", f)
changed = sorted(f for f in found & set(expected) if (home / f).read_bytes() != expected[f].read_bytes())
for f in changed: print("  differs from the project's file:", f)
assert not (extra or missing or changed), "the learner image's tree is not learner_files()"
print(f"/opt/microgradplus: {len(found)} files, exactly grader/assign/learner_tree.py's "
      "learner_files(), byte for byte")

# The lab bundles (grader/assign/bundle.py) are that definition, lab by lab.
union = {}
for lab in LABS.values():
    for name, source in bundle_files(lab.id, repo / "labs", repo).items():
        union[f"labs/{name}" if name == lab.notebook else name] = source
assert union == expected, sorted(set(union) ^ set(expected))
print(f"the union of the {len(LABS)} lab bundles is the same {len(union)} files")

# The image's own files (MGP_IMAGE): the Dockerfile's COPY of the install step's inputs and
# docker/, and nothing of the learner's tree.
own = image / "opt" / "microgradplus-image"
held = {p.relative_to(own).as_posix() for p in own.rglob("*") if p.is_file()}
wanted = {"pyproject.toml", "scripts/keep_installed.py"} | {
    p.relative_to(repo).as_posix() for p in (repo / "docker").iterdir() if p.is_file()}
assert held == wanted, (sorted(held - wanted), sorted(wanted - held))
print(f"/opt/microgradplus-image: the image's own {len(held)} files (install inputs, "
      "entrypoint, health check, JupyterLab's settings)")

# Nothing an instructor keeps, anywhere a learner can read: by name and by content.
modules = {f[:-3].replace("/", ".").removesuffix(".__init__") for f in found if f.endswith(".py")}
leaked = sorted(m for m in modules if m.startswith(INSTRUCTOR_ONLY) and m != "grader.checking.hidden")
assert not leaked, f"instructor-only modules: {leaked}"
secret = repo / "grader" / "checking" / "hidden" / "mnist_grading.npz"
digest = hashlib.sha256(secret.read_bytes()).hexdigest() if secret.is_file() else None
bad = []
for top in ("opt", "workspace", "home", "root", "tmp", "src", "srv"):
    for p in (image / top).rglob("*") if (image / top).is_dir() else ():
        rel = p.relative_to(image).as_posix()
        if not p.is_file() or p.is_symlink() or "/dist-packages/" in rel:
            continue
        if "/solutions/" in f"/{rel}" or "/tests/" in f"/{rel}/" and "microgradplus" in rel \
                or p.name in ("gradebook.db", secret.name) or "redteam" in rel:
            bad.append(rel)
        elif digest and p.stat().st_size == secret.stat().st_size \
                and hashlib.sha256(p.read_bytes()).hexdigest() == digest:
            bad.append(rel + " (the grading set's content)")
        elif p.suffix == ".ipynb" and b"### BEGIN SOLUTION" in p.read_bytes():
            bad.append(rel + " (solution text)")
hidden = [f for f in found if f.startswith("grader/checking/hidden/") and not f.endswith("__init__.py")]
assert not (bad or hidden), f"instructor files in the learner image: {bad + hidden}"
print(f"no solutions/, tests/, red team, hidden checks, grading set or gradebook; "
      f"no instructor-only module ({len(INSTRUCTOR_ONLY)} names in grader/assign/learner_tree.py)")
PY

"$PY" - "$bmnt" "$lmnt" <<'PY' || fail "the learner image's torch or numpy is not the base's"
"""torch and numpy in the learner image are the base's: same files, sizes, times, bytes."""
import hashlib, sys
from pathlib import Path
base, learner = Path(sys.argv[1]), Path(sys.argv[2])
for package in ("torch", "numpy"):
    def print_of(root):
        (top,) = root.glob("usr/local/lib/python3*/dist-packages")
        paths = [p for p in top.iterdir() if p.name == package or
                 (p.name.startswith(f"{package}-") and p.name.endswith(".dist-info"))]
        out = {}
        for d in paths:
            for p in d.rglob("*"):
                if p.is_file():
                    st = p.stat()
                    heavy = p.suffix == ".so" or ".so." in p.name
                    out[p.relative_to(top).as_posix()] = (st.st_size, st.st_mtime_ns,
                        hashlib.sha256(p.read_bytes()).hexdigest() if heavy else "")
        return out
    a, b = print_of(base), print_of(learner)
    assert a and a == b, f"{package}: {len(set(a) ^ set(b))} paths differ"
    size = sum(v[0] for v in a.values()) / 1e6
    print(f"{package}: {len(a)} files ({size:.0f} MB) identical to the base's "
          "(size, modification time; shared libraries by SHA-256)")
PY
"${RUN[@]}" "$lctr" -- python3 -c 'import torch, numpy, micrograd_plus
print("learner image: torch", torch.__version__, "numpy", numpy.__version__, "micrograd_plus", micrograd_plus.__version__)'

# --- 2. the instructor image grades a batch with bubblewrap ---------------------------
# bubblewrap cannot make its namespaces under chroot isolation (the kernel refuses a user
# namespace to a chrooted process), so this runs under runc, as Docker would, with what
# Docker's `--security-opt seccomp=unconfined --security-opt systempaths=unconfined` gives:
# no seccomp filter (buildah's default profile refuses bwrap's sethostname) and /proc
# unmasked (bwrap mounts a fresh /proc, which the kernel refuses while parts of the
# container's /proc are masked). runc-unconfined drops the three from the OCI config.
step "the instructor image grades a small batch (isolation: full)"
runtime="$work/runc-unconfined"
cat > "$runtime" <<RUNTIME
#!/bin/bash
# runc without seccomp and with /proc unmasked (Docker's seccomp=unconfined, systempaths=unconfined).
args=("\$@"); bundle=""
for ((i = 0; i < \${#args[@]}; i++)); do
    case "\${args[i]}" in --bundle|-b) bundle=\${args[i+1]} ;; --bundle=*) bundle=\${args[i]#--bundle=} ;; esac
done
if [ -n "\$bundle" ] && [ -f "\$bundle/config.json" ]; then
    "$(command -v python3)" -c 'import json, sys
path = sys.argv[1]; config = json.load(open(path))
for key in ("seccomp", "maskedPaths", "readonlyPaths"): config.get("linux", {}).pop(key, None)
json.dump(config, open(path, "w"))' "\$bundle/config.json"
fi
exec "$(command -v runc)" "\$@"
RUNTIME
chmod 755 "$runtime"
open_image "$INSTRUCTOR"; ictr=$CTR
mkdir -p "$work/submissions/ada" "$work/submissions/bob" "$work/results"
lab1=$(cd solutions && ls lab-1.7.1-*.ipynb)
cp "solutions/$lab1" "$work/submissions/ada/$lab1"   # complete: full marks
cp "labs/$lab1" "$work/submissions/bob/$lab1"        # the released lab, untouched
chown -R 1000 "$work/results"
"${BUILDAH[@]}" run --isolation oci --runtime "$runtime" \
    -v "$work/submissions:/submissions:ro" -v "$work/results:/results" "$ictr" -- \
    python3 -m grader autograde /submissions --out /results --lab 1 --seed 1 --no-progress -j 1 \
    2>&1 | tee "$LOGS/autograde.log" | tail -5
grep -q "isolation: full" "$LOGS/autograde.log" || fail "autograde did not grade at isolation: full"
"$PY" - "$work/results/grades.csv" <<'PY' || fail "the batch's grades"
import csv, sys
rows = {r["student_id"]: r for r in csv.DictReader(open(sys.argv[1]))}
for sid in sorted(rows):
    r = rows[sid]
    print(f"  {sid}: {r['status']}, {r['score']} of {r['max_score']}")
ada, bob = rows["ada"], rows["bob"]
assert ada["status"] == bob["status"] == "graded", (ada["status"], bob["status"])
assert float(ada["score"]) == float(ada["max_score"]) > 0, ada
assert float(bob["score"]) < float(ada["score"]), bob
PY

# --- 3. JupyterLab through each image's entrypoint, and the work volume ---------------
# The servers run under chroot isolation, which shares the host's network: the port is
# 127.0.0.1:PORT from the host, as `docker run -p PORT:PORT -e MGP_PORT=PORT` would have it.
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# The image's ENTRYPOINT, then its HEALTHCHECK command, one word a line each, "--" between.
config_of() {
    "${BUILDAH[@]}" inspect --type image "$1" | "$PY" -c 'import json, sys
config = json.load(sys.stdin)["Docker"]["config"]
test = config["Healthcheck"]["Test"]
assert test[0] == "CMD", test
print(*config["Entrypoint"], "--", *test[1:], sep="\n")'
}

# serve CTR IMAGE ROLE [buildah run options]: start the entrypoint; wait for the health check.
serve() {
    local ctr=$1 image=$2 role=$3 words i _
    shift 3
    mapfile -t words < <(config_of "$image")
    for i in "${!words[@]}"; do
        if [ "${words[i]}" = -- ]; then
            ENTRY=("${words[@]:0:i}") HEALTH=("${words[@]:i+1}")
        fi
    done
    if [ "${#ENTRY[@]}" -eq 0 ] || [ "${#HEALTH[@]}" -eq 0 ]; then
        fail "$image: no ENTRYPOINT or HEALTHCHECK"
    fi
    PORT=$(free_port)
    setsid "${RUN[@]}" --env "MGP_PORT=$PORT" "$@" "$ctr" -- "${ENTRY[@]}" \
        > "$LOGS/$role-jupyter.log" 2>&1 &
    SERVER=$!
    servers+=("$SERVER")
    for _ in $(seq 1 120); do
        if "${RUN[@]}" --env "MGP_PORT=$PORT" "$ctr" -- "${HEALTH[@]}" > "$work/health" 2>&1; then
            echo "$role: the image's health check (${HEALTH[*]}): $(cat "$work/health")"
            grep -m1 "MicroGrad+ JupyterLab: open" "$LOGS/$role-jupyter.log" | sed 's/token=.*/token=<generated>/'
            return 0
        fi
        kill -0 "$SERVER" 2>/dev/null || break
        sleep 1
    done
    tail -30 "$LOGS/$role-jupyter.log"
    fail "$role: JupyterLab did not become healthy"
}

stop() {
    kill -TERM -- "-$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    local _
    for _ in $(seq 1 20); do
        "$PY" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
            "$PORT" 2>/dev/null || return 0
        sleep 1
    done
    fail "the server on port $PORT did not stop"
}

# probe ROLE NOTEBOOKS TOKENFILE: ask the server from the host, as a browser would.
probe() {
    "$PY" - "$1" "$2" "$3" "$PORT" <<'PY'
import json, re, sys, urllib.error, urllib.request
role, notebooks, port = sys.argv[1], int(sys.argv[2]), sys.argv[4]
token = open(sys.argv[3]).read().strip()
assert len(token) >= 32, "the generated token is too short"

def get(path, token=token):
    headers = {"Authorization": f"token {token}"} if token else {}
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=20) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""

assert get("/api/status")[0] == 200
assert get("/api/status", token="")[0] in (401, 403), "answers without a token"
assert get("/api/status", token="wrong")[0] in (401, 403), "answers a wrong token"
status, page = get("/lab/tree/labs")
assert status == 200, f"/lab/tree/labs: HTTP {status}"
config = json.loads(re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', page, re.S).group(1))
federated = {e["name"] for e in config.get("federated_extensions", [])}
disabled = set(config.get("disabledExtensions", []))
assert config["appVersion"].startswith("4."), config["appVersion"]
assert "@jupyter/nbgrader" in federated, sorted(federated)
assert "@jupyter/nbgrader:validate-assignment" not in disabled, disabled
assert ("@jupyter/nbgrader:formgrader" in disabled) == (role == "learner"), disabled
status, body = get("/api/contents/labs")
assert status == 200, f"/api/contents/labs: HTTP {status}"
listed = sorted(c["name"] for c in json.loads(body)["content"] if c["name"].endswith(".ipynb"))
assert len(listed) == notebooks, listed
assert get("/api/contents/labs", token="")[0] in (401, 403), "labs served without a token"
status, body = get("/nbgrader_version?version=0.9.6")
assert status == 200 and json.loads(body)["success"], (status, body)
formgrader = get("/formgrader")[0]
assert (formgrader == 200) == (role == "instructor"), f"/formgrader: HTTP {formgrader}"
print(f"{role}: from the host on 127.0.0.1:{port}: token required (none or a wrong one: refused);"
      f" JupyterLab {config['appVersion']} serves labs/ ({len(listed)} notebooks);"
      f" nbgrader's Validate answers; formgrader HTTP {formgrader}")
PY
}

step "learner: JupyterLab through the entrypoint, the work volume seeded on first start"
# A fresh named volume: Docker copies the image's (empty) folder in, owned by the learner.
volume="$work/volume"
mkdir -p "$volume" && chown 1000:1000 "$volume"
state="$lmnt/home/learner/.microgradplus/jupyter-token"
serve "$lctr" "$LEARNER" learner -v "$volume:/workspace/microgradplus"
shipped=$(find "$lmnt/opt/microgradplus/labs" -name '*.ipynb' | wc -l)
seeded=$(find "$volume/labs" -name '*.ipynb' | wc -l)
[ "$seeded" -eq "$shipped" ] || fail "the volume holds $seeded notebooks, the image $shipped"
echo "volume seeded with $seeded lab notebooks, owned by UID $(stat -c %u "$volume/labs/$lab1")"
probe learner "$seeded" "$state" || fail "learner: JupyterLab"
stop

step "learner: a later image with a new lab, the same volume with an edited notebook"
"$PY" - "$volume/labs/$lab1" <<'PY'
import sys, nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
nb.cells.append(nbformat.v4.new_markdown_cell("My own notes."))
nbformat.write(nb, sys.argv[1])
PY
edited=$(sha256sum < "$volume/labs/$lab1")
others=$(cd "$volume/labs" && sha256sum -- *.ipynb | grep -v " $lab1\$")
# The newer image: its labs/ gains a notebook (here added to the learner's container).
new_lab=lab-1.7.6-added-later.ipynb
cp "$lmnt/opt/microgradplus/labs/$lab1" "$lmnt/opt/microgradplus/labs/$new_lab"
serve "$lctr" "$LEARNER" learner -v "$volume:/workspace/microgradplus"
[ -f "$volume/labs/$new_lab" ] || fail "the new lab was not copied into the volume"
[ "$(sha256sum < "$volume/labs/$lab1")" = "$edited" ] || fail "the edited notebook was overwritten"
[ "$(cd "$volume/labs" && sha256sum -- *.ipynb | grep -v " $lab1\$" | grep -v " $new_lab\$")" = "$others" ] \
    || fail "the other notebooks changed"
echo "new lab $new_lab copied in; the edited $lab1 and the other labs untouched"
probe learner "$((shipped + 1))" "$state" || fail "learner: JupyterLab after the update"
stop

step "instructor: JupyterLab through the entrypoint, with formgrader"
serve "$ictr" "$INSTRUCTOR" instructor
imnt=$("${BUILDAH[@]}" mount "$ictr")
probe instructor "$(find "$imnt/opt/microgradplus/labs" -name '*.ipynb' | wc -l)" \
    "$imnt/home/learner/.microgradplus/jupyter-token" || fail "instructor: JupyterLab"
stop

step "image_check: OK in $SECONDS s"
