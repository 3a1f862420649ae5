#!/usr/bin/env bash
# Start MicroGrad+'s JupyterLab (or run the command given instead).
#
# - Seeds the work folder (MGP_WORK, a volume) with the labs the image ships, copying
#   only files that are not there yet: a learner's own work is never overwritten.
# - Uses JUPYTER_TOKEN when set; otherwise makes a random one (never an empty token),
#   prints the URL to open, and keeps it where docker/healthcheck.py finds it.
# - Hands over to the NGC image's own entrypoint (its banner and GPU checks) when present.
set -euo pipefail
# The image's own files (this script, JupyterLab's settings) sit beside each other, apart
# from the learner's tree in MGP_HOME.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MGP_HOME=${MGP_HOME:-/opt/microgradplus}
MGP_WORK=${MGP_WORK:-/workspace/microgradplus}
MGP_STATE=${MGP_STATE:-$HOME/.microgradplus}
PYTHON=${PYTHON:-python3}

# Copy each file of $1 into $2 unless $2 already has it.
seed() {
    local src=$1 dst=$2 file
    [ -d "$src" ] || return 0
    mkdir -p "$dst"
    (cd "$src" && find . -type f ! -path '*/.ipynb_checkpoints/*') | while IFS= read -r file; do
        if [ ! -e "$dst/$file" ]; then
            mkdir -p "$(dirname "$dst/$file")"
            cp -p "$src/$file" "$dst/$file"
        fi
    done
}

if [ "$(cd "$MGP_HOME" && pwd -P)" != "$(mkdir -p "$MGP_WORK" && cd "$MGP_WORK" && pwd -P)" ]; then
    seed "$MGP_HOME/labs" "$MGP_WORK/labs"
fi

# Instructors: formgrader's course folder lists each source notebook of solutions/.
if [ "${MGP_ROLE:-learner}" = instructor ] && [ -d "$MGP_HOME/solutions" ]; then
    course=${MGP_COURSE:-$MGP_HOME/build/course}
    for notebook in "$MGP_HOME"/solutions/*.ipynb; do
        [ -e "$notebook" ] || continue
        name=$(basename "$notebook")
        mkdir -p "$course/source/${name%.ipynb}"
        [ -e "$course/source/${name%.ipynb}/$name" ] \
            || ln -s "$notebook" "$course/source/${name%.ipynb}/$name"
    done
fi

mkdir -p "$MGP_STATE"
chmod 700 "$MGP_STATE"
generated=""
if [ -z "${JUPYTER_TOKEN:-}" ]; then
    JUPYTER_TOKEN=$("$PYTHON" -c "import secrets; print(secrets.token_hex(24))")
    generated=1
fi
export JUPYTER_TOKEN
(umask 077 && printf '%s\n' "$JUPYTER_TOKEN" > "$MGP_STATE/jupyter-token")

if [ "$#" -eq 0 ]; then
    set -- "$PYTHON" -m jupyter lab --config="$HERE/jupyter_server_config.py"
    port=${MGP_PORT:-8888}
    if [ -n "$generated" ]; then
        echo "MicroGrad+ JupyterLab: open http://127.0.0.1:${port}/lab?token=${JUPYTER_TOKEN}"
    else
        echo "MicroGrad+ JupyterLab: open http://127.0.0.1:${port}/lab and enter your JUPYTER_TOKEN"
    fi
    echo "(with -p HOSTPORT:${port}, use HOSTPORT; your work is saved in ${MGP_WORK})"
fi

if [ -x /opt/nvidia/nvidia_entrypoint.sh ]; then
    exec /opt/nvidia/nvidia_entrypoint.sh "$@"
fi
exec "$@"
