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
find "$dest/grader/hidden" -mindepth 1 ! -name __init__.py -exec rm -rf {} +
find "$dest" \( -name __pycache__ -o -name .ipynb_checkpoints -o -name '*.egg-info' \) \
    -prune -exec rm -rf {} +
find "$dest" \( -name '*.db' -o -name '*.pyc' \) -delete
if [ -d "$dest/labs" ] && grep -rlE '### (BEGIN|END) (SOLUTION|HIDDEN TESTS)' "$dest/labs"; then
    echo "docker/learner_tree.sh: the notebooks above hold solution or hidden-test text" >&2
    exit 1
fi
echo "learner tree: $(find "$dest" -type f | wc -l) files in $dest"
