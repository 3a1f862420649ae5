#!/usr/bin/env bash
# A stand-in for NVIDIA's NGC PyTorch image, built locally with buildah, so that the
# project's Dockerfile can be built without a Docker engine or NVIDIA's registry.
#
# What it holds, and where it follows the real image:
#   - Debian bookworm (debootstrap --variant=minbase) with its python3 (3.11) and pip;
#     pip installs into /usr/local as root, as in the NGC images (no EXTERNALLY-MANAGED);
#   - what scripts/ngc_smoke.sh's `jupyterlab2` image ships (the one definition, read from
#     that script): the CPU build of torch 2.13.0, numpy 1.26.4, JupyterLab 2.3.2,
#     notebook 6.4.10 and their contemporary Jupyter packages;
#   - PIP_CONSTRAINT=/etc/pip/constraint.txt pinning every package it ships (pip freeze),
#     as NGC images set it since 25.03;
#   - WORKDIR /workspace, root as the default user, a user `ubuntu` with UID 1000 (as in the
#     Ubuntu 24.04 based images), and /opt/nvidia/nvidia_entrypoint.sh as ENTRYPOINT (a
#     banner, then the command, as NVIDIA's does);
#   - the host's CA bundle at /etc/host-ca.crt with PIP_CERT pointing at it, so that pip
#     reaches the registry from inside a build (the real image needs no such thing).
# Where it differs: Debian instead of Ubuntu, Python 3.11 (the images: 3.12), no CUDA, no
# GPU libraries, no torchvision/triton, this machine's architecture only.
#
# It is tagged nvcr.io/nvidia/pytorch:<NGC_TAG>-py3 (NGC_TAG: the Dockerfile's default)
# in the buildah storage below, labelled with a hash of this script and the shipped
# packages: a second run with the same hash finds it and does nothing.
#
# Usage: scripts/fake_ngc_base.sh            (as root; needs buildah and debootstrap)
# Environment: MGP_IMAGE_CACHE (default /var/tmp/microgradplus-image) holds the storage,
# MGP_STORAGE_DRIVER/storage (vfs by default; overlay where the kernel allows it);
# BUILDAH_ROOT/BUILDAH_RUNROOT override its parts; DEBIAN_MIRROR (default deb.debian.org).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${MGP_IMAGE_CACHE:-/var/tmp/microgradplus-image}
DRIVER=${MGP_STORAGE_DRIVER:-vfs}
BUILDAH=(buildah --root "${BUILDAH_ROOT:-$CACHE/$DRIVER/storage}"
         --runroot "${BUILDAH_RUNROOT:-$CACHE/$DRIVER/run}" --storage-driver "$DRIVER")
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
TAG=${NGC_TAG:-$(sed -n 's/^ARG NGC_TAG=//p' "$ROOT/Dockerfile")}
IMAGE="nvcr.io/nvidia/pytorch:${TAG}-py3"

# What the image ships: scripts/ngc_smoke.sh's jupyterlab2 image.
eval "$(sed -n '/^declare -A SHIPS=(/,/^)/p' "$ROOT/scripts/ngc_smoke.sh")"
read -r -d "" -a ships <<<"${SHIPS[jupyterlab2]:?}" || true
SHIPS_LIST="${ships[*]}"  # one line, single spaces
KEY=$( (cat "${BASH_SOURCE[0]}"; echo "$SHIPS_LIST $TAG") | sha256sum | cut -c1-16)

have=$("${BUILDAH[@]}" inspect --type image \
       --format '{{index .ImageAnnotations "org.microgradplus.fake-ngc-base"}}{{index .Docker.Config.Labels "org.microgradplus.fake-ngc-base"}}' \
       "$IMAGE" 2>/dev/null || true)
if [ "$have" = "$KEY" ]; then
    echo "fake_ngc_base: $IMAGE is already built (key $KEY)"
    exit 0
fi

work=$(mktemp -d -t mgp-fake-ngc-XXXXXX)
ctr=""
cleanup() {
    [ -z "$ctr" ] || "${BUILDAH[@]}" rm "$ctr" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "== debootstrap bookworm (minbase, python3, pip) ($SECONDS s)"
debootstrap --variant=minbase --include=python3,python3-pip,python3-venv,ca-certificates \
    bookworm "$work/rootfs" "$MIRROR" > "$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log"; exit 1; }
rm -f "$work"/rootfs/usr/lib/python3*/EXTERNALLY-MANAGED
rm -rf "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/var/cache/apt/archives/*.deb
cp /etc/ssl/certs/ca-certificates.crt "$work/rootfs/etc/host-ca.crt"
mkdir -p "$work/rootfs/workspace" "$work/rootfs/opt/nvidia" "$work/rootfs/etc/pip"
cat > "$work/rootfs/opt/nvidia/nvidia_entrypoint.sh" <<EOF
#!/bin/bash
# Stand-in for NVIDIA's entrypoint: a banner, then the command.
echo "== PyTorch (stand-in for NGC ${TAG}: Debian bookworm, CPU torch, no CUDA) =="
exec "\$@"
EOF
chmod 755 "$work/rootfs/opt/nvidia/nvidia_entrypoint.sh"
echo "root filesystem: $(du -sh "$work/rootfs" | cut -f1)"

echo "== into buildah storage ($SECONDS s)"
ctr=$("${BUILDAH[@]}" from scratch)
mnt=$("${BUILDAH[@]}" mount "$ctr")
tar -C "$work/rootfs" -cf - . | tar -C "$mnt" -xf -
rm -rf "$work/rootfs"
"${BUILDAH[@]}" run --isolation chroot "$ctr" -- useradd --create-home --uid 1000 --shell /bin/bash ubuntu

echo "== pip install $SHIPS_LIST ($SECONDS s)"
# The host's local wheels (the CPU torch) when it has them, else the registry.
wheels=()
[ -d /opt/wheels ] && wheels=(-v /opt/wheels:/opt/wheels:ro --env PIP_FIND_LINKS=/opt/wheels)
# shellcheck disable=SC2086
"${BUILDAH[@]}" run --isolation chroot "${wheels[@]}" --env PIP_CERT=/etc/host-ca.crt \
    --env PIP_NO_CACHE_DIR=1 --env PIP_DISABLE_PIP_VERSION_CHECK=1 "$ctr" -- \
    python3 -m pip install --quiet --no-compile $SHIPS_LIST
# shellcheck disable=SC2016  # expanded inside the image
"${BUILDAH[@]}" run --isolation chroot "$ctr" -- sh -c \
    'python3 -m pip freeze --all --exclude pip --exclude setuptools > /etc/pip/constraint.txt
     echo "PIP_CONSTRAINT pins $(grep -c . /etc/pip/constraint.txt) packages"
     python3 -c "import torch, numpy; print(\"torch\", torch.__version__, \"numpy\", numpy.__version__)"
     python3 -m jupyter lab --version'

echo "== commit $IMAGE ($SECONDS s)"
"${BUILDAH[@]}" config \
    --env PIP_CONSTRAINT=/etc/pip/constraint.txt --env PIP_CERT=/etc/host-ca.crt \
    --env NVIDIA_PYTORCH_VERSION="$TAG" --env PYTORCH_VERSION=2.13.0 \
    --env LC_ALL=C.UTF-8 --env PYTHONIOENCODING=utf-8 \
    --workingdir /workspace --user root \
    --entrypoint '["/opt/nvidia/nvidia_entrypoint.sh"]' \
    --label "org.microgradplus.fake-ngc-base=$KEY" \
    --label "org.microgradplus.ships=$SHIPS_LIST" "$ctr"
"${BUILDAH[@]}" commit --quiet --format docker --rm "$ctr" "$IMAGE" >/dev/null
ctr=""
# Older stand-ins (another key) lose their name to this one; remove what is left untagged.
"${BUILDAH[@]}" rmi --prune >/dev/null 2>&1 || true
echo "fake_ngc_base: $IMAGE built (key $KEY) in $SECONDS s"
"${BUILDAH[@]}" images
