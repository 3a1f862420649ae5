#!/usr/bin/env bash
# Write what a learner gets from the project at $1 into $2 (the learner image's
# /opt/microgradplus): grader/assign/learner_tree.py's learner_files(), the one definition
# the lab bundles and the hub's learner tree use too. The released labs, micrograd_plus
# without lab 1.7.5's own reference, the visible checks, the guides and the data sample;
# never solutions/, the hidden checks, the grading set, planted bugs, the tests or the
# instructor's tools. PYTHON (default python3) needs the project's dependencies: the
# Dockerfile's learner-tree stage runs it FROM base, after the install of its dependencies.
set -euo pipefail
src=${1:?usage: docker/learner_tree.sh SRC DEST}
dest=${2:?usage: docker/learner_tree.sh SRC DEST}
src=$(cd "$src" && pwd)
PYTHONPATH="$src${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1 \
    exec "${PYTHON:-python3}" -m grader.assign.learner_tree "$src" "$dest"
