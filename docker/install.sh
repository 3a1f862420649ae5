#!/usr/bin/env bash
# Install MicroGrad+ into a Python that already ships torch (the NGC PyTorch image).
# The Dockerfile runs exactly these steps, and so does scripts/ngc_smoke.sh, which
# checks them in a fresh virtual environment without a Docker engine.
#
#   docker/install.sh deps                      # what the image lacks (from pyproject.toml)
#   docker/install.sh project                   # MicroGrad+ itself, editable
#   docker/install.sh project TREE              # the learner's tree put on the path as it is
#   docker/install.sh role learner|instructor   # nbgrader's extensions for that role
#
# PYTHON picks the interpreter (default: python3). Constraints are generated from
# what the interpreter already has (scripts/keep_installed.py): pip may add packages
# but never replaces the CUDA stack (torch, torchvision, triton, numpy); torch is never
# reinstalled. The Jupyter stack is kept when it can host nbgrader and the labs, and
# replaced by pyproject.toml's pins when it cannot (JupyterLab 2.3.2 in older images).
#
# The image's own pip constraints (PIP_CONSTRAINT; NGC images since 25.03 set it to
# /etc/pip/constraint.txt, pinning every package they ship) are honoured for everything
# kept: `deps` writes an edited copy to MGP_PIP_CONSTRAINT (default
# build/pip-constraint.txt) in which only the pins the install must replace are lifted
# (docker/constraints.py), installs under it, and `project` uses it too; the Dockerfile
# points PIP_CONSTRAINT at it for every later pip install in the image.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
EXTRAS=${EXTRAS:-lab,grader}
ALSO=${ALSO-nbval,pytest,pytest-timeout}
EDITED=${MGP_PIP_CONSTRAINT:-$ROOT/build/pip-constraint.txt}

# The image's constraints files, one a line: PIP_CONSTRAINT's (space-separated, as pip
# reads it), else /etc/pip/constraint.txt when the image has one.
image_constraints() {
    local path
    if [ -n "${PIP_CONSTRAINT:-}" ]; then
        for path in $PIP_CONSTRAINT; do echo "$path"; done
    elif [ -f /etc/pip/constraint.txt ]; then
        echo /etc/pip/constraint.txt
    fi
}

deps() {
    local work
    work=$(mktemp -d)
    trap 'rm -rf "$work"' RETURN
    "$PYTHON" -c "import torch" 2>/dev/null \
        || { echo "docker/install.sh: torch is not importable by $PYTHON: use the NGC PyTorch image" >&2; exit 1; }
    "$PYTHON" "$ROOT/scripts/keep_installed.py" > "$work/constraints.txt"
    "$PYTHON" "$ROOT/scripts/keep_installed.py" --replacing > "$work/replacing.txt"
    "$PYTHON" "$ROOT/docker/requirements.py" --extras "$EXTRAS" --also "$ALSO" > "$work/requirements.txt"
    echo "Keeping the image's own builds:"; sed 's/^/  /' "$work/constraints.txt"
    if [ -s "$work/replacing.txt" ]; then
        echo "Replacing the image's Jupyter stack (JupyterLab, notebook, jupyter-server," \
             "ipykernel) with the versions MicroGrad+ pins:"
        sed 's/^/  /' "$work/replacing.txt"
    fi
    echo "Installing:"; sed 's/^/  /' "$work/requirements.txt"
    local image=()
    mapfile -t image < <(image_constraints)
    if [ -s "$work/requirements.txt" ] && [ "${#image[@]}" -gt 0 ] \
        && grep -qsvE '^[[:space:]]*(#|$)' "${image[@]}"; then
        # What pip would install without the image's pins (the kept builds pinned as
        # they are); the pins that plan breaks are the ones to lift.
        PIP_CONSTRAINT=/dev/null "$PYTHON" -m pip install --quiet --dry-run \
            --report "$work/plan.json" -c "$work/constraints.txt" -r "$work/requirements.txt"
        "$PYTHON" "$ROOT/docker/constraints.py" --report "$work/plan.json" --out "$EDITED" \
            "${image[@]}"
    else
        "$PYTHON" "$ROOT/docker/constraints.py" --out "$EDITED" "${image[@]}"
    fi
    if [ -s "$work/requirements.txt" ]; then
        PIP_CONSTRAINT="$EDITED" "$PYTHON" -m pip install --quiet \
            -c "$work/constraints.txt" -r "$work/requirements.txt"
    fi
    unchanged "$work/constraints.txt"
}

project() {
    local work tree=${1:-}
    work=$(mktemp -d)
    trap 'rm -rf "$work"' RETURN
    "$PYTHON" "$ROOT/scripts/keep_installed.py" > "$work/constraints.txt"
    if [ -n "$tree" ]; then
        # The learner image: its tree is exactly what a learner gets
        # (grader/assign/learner_tree.py), with no pyproject.toml to install from. A .pth
        # file in the site folder puts it on the path, as the hub's learner environment does.
        local site
        site=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
        mkdir -p "$site"
        printf '%s\n' "$(cd "$tree" && pwd)" > "$site/microgradplus-learner.pth"
    else
        # Under the constraints `deps` wrote, when it wrote them here.
        if [ -f "$EDITED" ]; then export PIP_CONSTRAINT="$EDITED"; fi
        # Editable, so that the package finds data/ beside it; `deps` installed its dependencies.
        "$PYTHON" -m pip install --quiet --no-deps -c "$work/constraints.txt" -e "$ROOT"
    fi
    unchanged "$work/constraints.txt"
    "$PYTHON" -c "import micrograd_plus, grader; print('MicroGrad+', micrograd_plus.__version__, 'installed')"
}

# Fail when a package pinned in the constraints file $1 now has another version.
unchanged() {
    local changed
    changed=$(grep -vxFf <("$PYTHON" "$ROOT/scripts/keep_installed.py") "$1" || true)
    if [ -n "$changed" ]; then
        echo "docker/install.sh: the image's own build changed: $changed" >&2
        exit 1
    fi
}

role() {
    local on off
    case "${1:-}" in
        learner) on=""; off="formgrader course_list assignment_list create_assignment" ;;
        instructor) on="formgrader course_list assignment_list create_assignment"; off="" ;;
        *) echo "usage: docker/install.sh role learner|instructor" >&2; exit 2 ;;
    esac
    # validate_assignment (the notebook's "Validate" button) stays on for both roles.
    toggle enable "$on"
    toggle disable "$off"
    # formgrader's course folder (docker/nbgrader_config.py), in this Python's config dir.
    local config
    config="$("$PYTHON" -c 'import sys; print(sys.prefix)')/etc/jupyter/nbgrader_config.py"
    if [ "$1" = instructor ]; then
        install -D -m 644 "$ROOT/docker/nbgrader_config.py" "$config"
    else
        rm -f "$config"
    fi
    echo "nbgrader extensions set for the $1 role: on: ${on:-none}; off: ${off:-none}"
}

# toggle enable|disable "NAME ...": nbgrader's server and JupyterLab extensions by short name.
toggle() {
    local action=$1 name server=() lab=()
    for name in $2; do
        [ "$name" = create_assignment ] || server+=("nbgrader.server_extensions.$name")
        lab+=("@jupyter/nbgrader:${name//_/-}")
    done
    [ "${#lab[@]}" -gt 0 ] || return 0
    if [ "${#server[@]}" -gt 0 ]; then
        # In the folder where pip put nbgrader's own server config: sys.prefix in a virtual
        # environment, but /usr/local for a Debian/Ubuntu system Python run as root (the NGC
        # images), where --sys-prefix (/usr) finds no such extension and writes nothing.
        local data
        data=$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["data"])')
        JUPYTER_CONFIG_DIR="$data/etc/jupyter" \
            "$PYTHON" -m jupyter server extension "$action" --user "${server[@]}" >/dev/null 2>&1
    fi
    "$PYTHON" -m jupyter labextension "$action" --level=sys_prefix "${lab[@]}" >/dev/null 2>&1
}

case "${1:-}" in
    deps) deps ;;
    project) shift; project "$@" ;;
    role) shift; role "$@" ;;
    *) echo "usage: docker/install.sh deps | project [TREE] | role learner|instructor" >&2; exit 2 ;;
esac
