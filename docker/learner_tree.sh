#!/usr/bin/env bash
# Copy what a learner gets from the project at $1 into $2 (the learner image's
# /opt/microgradplus). Like the learner bundle: the released labs, micrograd_plus,
# the visible checks and the data sample; never solutions/, hidden specs, planted
# bugs, a gradebook or the tests.
set -euo pipefail
src=${1:?usage: docker/learner_tree.sh SRC DEST}
dest=${2:?usage: docker/learner_tree.sh SRC DEST}
mkdir -p "$dest"
for path in pyproject.toml README.md QUICKSTART.md STUDY_GUIDE.md QUICK_REFERENCE.md LICENSE \
            labs micrograd_plus grader docker scripts/keep_installed.py data/README.md \
            data/mnist_sample.npz; do
    [ -e "$src/$path" ] || continue
    mkdir -p "$(dirname "$dest/$path")"
    cp -R "$src/$path" "$dest/$path"
done
# Hidden checks: keep only the empty package, so that a missing lab module reads as "none".
rm -rf "$dest/grader/redteam"
find "$dest/grader/checking/hidden" -mindepth 1 ! -name __init__.py -exec rm -rf {} +
# The instructor's tools, as the learner bundle leaves them out (grader/assign/bundle.py's
# INSTRUCTOR_ONLY: module names, or prefixes ending in a dot).
if [ -f "$src/grader/assign/bundle.py" ]; then
    python3 - "$src/grader/assign/bundle.py" "$dest" <<'PY'
import ast, shutil, sys
from pathlib import Path
bundle, dest = Path(sys.argv[1]), Path(sys.argv[2])
names = next(
    ast.literal_eval(node.value) for node in ast.parse(bundle.read_text()).body
    if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "INSTRUCTOR_ONLY"
)
for name in names:
    if name.endswith("."):
        continue  # a prefix: grader.checking.hidden. and grader.redteam are handled above
    path = dest.joinpath(*name.split("."))
    if path.with_suffix(".py").is_file():
        path.with_suffix(".py").unlink()
    elif path.is_dir():
        shutil.rmtree(path)
PY
fi
find "$dest" \( -name __pycache__ -o -name .ipynb_checkpoints -o -name '*.egg-info' \) \
    -prune -exec rm -rf {} +
find "$dest" \( -name '*.db' -o -name '*.pyc' \) -delete
if [ -d "$dest/labs" ] && grep -rlE '### (BEGIN|END) (SOLUTION|HIDDEN TESTS)' "$dest/labs"; then
    echo "docker/learner_tree.sh: the notebooks above hold solution or hidden-test text" >&2
    exit 1
fi
echo "learner tree: $(find "$dest" -type f | wc -l) files in $dest"
