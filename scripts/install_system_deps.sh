#!/usr/bin/env bash
# Debian packages the tests use: bubblewrap (the grader's sandbox), graphviz (the
# `dot` program), Fashion-MNIST for the benchmarks, Chromium for the real-browser
# test. Optional: tests that need one skip with a reason when it is missing.
set -euo pipefail
PKGS="bubblewrap graphviz dataset-fashion-mnist chromium chromium-driver"
missing=""
for p in $PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
