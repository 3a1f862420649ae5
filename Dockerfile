# syntax=docker/dockerfile:1
# MicroGrad+ on the NVIDIA NGC PyTorch image (x86-64 and arm64): JupyterLab on port 8888,
# opened on labs/, with a token, a health check and the work folder on a volume.
#
#   docker build --target learner -t microgradplus:learner .
#   docker run --gpus all --init -p 8888:8888 -v mgp-work:/workspace/microgradplus microgradplus:learner
#   docker build --target instructor -t microgradplus:instructor .
#
# The image's CUDA stack (torch, torchvision, triton, numpy) is kept: docker/install.sh
# installs only what the image lacks, under constraints generated inside the image from
# what it ships, and never reinstalls torch. Its Jupyter stack (JupyterLab, notebook,
# jupyter-server, ipykernel) is kept when it can host nbgrader 0.9.6 (JupyterLab >=4.2,<5,
# notebook >=7.2,<8), and replaced by pyproject.toml's pins when it cannot: NGC images
# shipped JupyterLab 2.3.2 for years.
#
# pip constraints: NGC images since 25.03 set PIP_CONSTRAINT=/etc/pip/constraint.txt,
# pinning every package they ship (NVIDIA: edit it to install other versions). The install
# honours it for everything it keeps and lifts only the pins it must replace (an old
# JupyterLab and what it brings), into an edited copy, MGP_PIP_CONSTRAINT; torch's pins are
# never edited. PIP_CONSTRAINT then points at that copy for every later pip install.
ARG NGC_TAG=26.05
FROM nvcr.io/nvidia/pytorch:${NGC_TAG}-py3 AS base
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHON=python3 \
    MGP_HOME=/opt/microgradplus \
    MGP_IMAGE=/opt/microgradplus-image \
    MGP_STATE=/home/learner/.microgradplus \
    MGP_PORT=8888 \
    MGP_PIP_CONSTRAINT=/etc/pip/constraint-microgradplus.txt
# graphviz's `dot` draws the computation graphs; bubblewrap is the grader's sandbox
# (`python -m grader validate` and `autograde`, which need the grading pipeline: the
# instructor image; the learner's tree leaves it out). A container that runs it needs no
# seccomp filter and an unmasked /proc (bubblewrap mounts a fresh /proc, which the kernel
# refuses while parts of the container's /proc are masked): Docker `--security-opt
# seccomp=unconfined --security-opt systempaths=unconfined` (Podman: `--security-opt
# unmask=ALL`); Kubernetes `seccompProfile: Unconfined` and `procMount: Unmasked`, which needs
# `hostUsers: false` (deploy/k8s/grading-job.yaml; README.md, "In the NGC container").
# Package versions follow the base image's Ubuntu release, which changes with NGC_TAG, so
# they are not pinned here.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends graphviz bubblewrap \
    && rm -rf /var/lib/apt/lists/*
# The non-root user the notebooks run as (UID 1000 may already exist: --non-unique).
ARG NB_UID=1000
ENV NB_UID=${NB_UID}
RUN useradd --create-home --non-unique --uid "${NB_UID}" --shell /bin/bash learner
# The image's own files, in MGP_IMAGE, never in the learner's tree (MGP_HOME): what the
# install step reads (pyproject.toml, the scripts), the entrypoint, the health check and
# JupyterLab's settings. Alone in their own layer so that editing a lab keeps the cache.
COPY pyproject.toml ${MGP_IMAGE}/
COPY scripts/keep_installed.py ${MGP_IMAGE}/scripts/
COPY docker/ ${MGP_IMAGE}/docker/
RUN ${MGP_IMAGE}/docker/install.sh deps
# The image's constraints with the lifted pins replaced by what the install put in.
ENV PIP_CONSTRAINT=${MGP_PIP_CONSTRAINT}

# What a learner gets (grader/assign/learner_tree.py, the definition the lab bundles and the
# hub share; docker/learner_tree.sh writes it), in a stage of its own so that no layer of
# the learner image ever held the solutions or the hidden checks.
FROM base AS learner-tree
COPY . /src
RUN /src/docker/learner_tree.sh /src /tree

FROM base AS learner
ENV MGP_ROLE=learner \
    MGP_WORK=/workspace/microgradplus
COPY --from=learner-tree /tree ${MGP_HOME}
RUN ${MGP_IMAGE}/docker/install.sh project "${MGP_HOME}" \
    && ${MGP_IMAGE}/docker/install.sh role learner \
    && mkdir -p "${MGP_WORK}" \
    && chown learner "${MGP_WORK}"
USER ${NB_UID}
WORKDIR ${MGP_WORK}
VOLUME ["/workspace/microgradplus"]
EXPOSE 8888
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "/opt/microgradplus-image/docker/healthcheck.py"]
ENTRYPOINT ["/opt/microgradplus-image/docker/entrypoint.sh"]

# Everything: solutions/, the hidden checks, the tests and the grader's tools, with
# nbgrader's formgrader. The course folder is the work folder (a volume).
FROM base AS instructor
ENV MGP_ROLE=instructor \
    MGP_WORK=/opt/microgradplus
COPY . ${MGP_HOME}
# The instructor works in the course folder (release writes labs/, the entrypoint build/).
RUN ${MGP_HOME}/docker/install.sh project \
    && ${MGP_HOME}/docker/install.sh role instructor \
    && chown -R learner "${MGP_HOME}"
USER ${NB_UID}
WORKDIR ${MGP_HOME}
VOLUME ["/opt/microgradplus"]
EXPOSE 8888
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "/opt/microgradplus-image/docker/healthcheck.py"]
ENTRYPOINT ["/opt/microgradplus-image/docker/entrypoint.sh"]
