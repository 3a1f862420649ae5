#!/usr/bin/env bash
# Debian packages the tests use: bubblewrap (the grader's sandbox), graphviz (the
# `dot` program), Fashion-MNIST for the benchmarks, Chromium for the real-browser
# tests, shellcheck for the deployment scripts, SLURM and munge for the one-node cluster of
# tests/test_slurm.py (scripts/slurm_cluster.sh starts its own daemons, on their own ports and
# state folders; the packages' services are not used), buildah, debootstrap and runc for the
# container image check (scripts/image_check.sh); and npm's configurable-http-proxy for
# the JupyterHub test. Optional: tests that need one skip with a reason when it is missing.
set -euo pipefail
if command -v npm >/dev/null 2>&1 && ! command -v configurable-http-proxy >/dev/null 2>&1; then
    npm install -g --no-fund --no-audit configurable-http-proxy@5.3.0 \
        || echo "warning: configurable-http-proxy could not be installed"
fi
PKGS="bubblewrap graphviz dataset-fashion-mnist chromium chromium-driver shellcheck"
PKGS="$PKGS slurmctld slurmd slurm-client munge"
PKGS="$PKGS buildah debootstrap runc"
missing=""
for p in $PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
