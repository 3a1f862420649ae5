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
    MGP_STATE=/home/learner/.microgradplus \
    MGP_PORT=8888 \
    MGP_PIP_CONSTRAINT=/etc/pip/constraint-microgradplus.txt
# graphviz's `dot` draws the computation graphs; bubblewrap is the grader's sandbox (the
# learner's `validate` and the instructor's `autograde`; in Docker it needs
# `--security-opt seccomp=unconfined`, see docs/instructor-guide.md). Package versions follow
# the base image's Ubuntu release, which changes with NGC_TAG, so they are not pinned here.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends graphviz bubblewrap \
    && rm -rf /var/lib/apt/lists/*
# The non-root user the notebooks run as (UID 1000 may already exist: --non-unique).
ARG NB_UID=1000
ENV NB_UID=${NB_UID}
RUN useradd --create-home --non-unique --uid "${NB_UID}" --shell /bin/bash learner
# What the install step reads, alone in its own layer so that editing a lab keeps the cache.
COPY pyproject.toml ${MGP_HOME}/
COPY scripts/keep_installed.py ${MGP_HOME}/scripts/
COPY docker/ ${MGP_HOME}/docker/
RUN ${MGP_HOME}/docker/install.sh deps
# The image's constraints with the lifted pins replaced by what the install put in.
ENV PIP_CONSTRAINT=${MGP_PIP_CONSTRAINT}

# The learner's files only (see docker/learner_tree.sh), in a stage of their own so that
# no layer of the learner image ever held the solutions or the hidden checks.
FROM base AS learner-tree
COPY . /src
RUN /src/docker/learner_tree.sh /src /tree

FROM base AS learner
ENV MGP_ROLE=learner \
    MGP_WORK=/workspace/microgradplus
COPY --from=learner-tree /tree ${MGP_HOME}
RUN ${MGP_HOME}/docker/install.sh project \
    && ${MGP_HOME}/docker/install.sh role learner \
    && mkdir -p "${MGP_WORK}" \
    && chown learner "${MGP_WORK}"
USER ${NB_UID}
WORKDIR ${MGP_WORK}
VOLUME ["/workspace/microgradplus"]
EXPOSE 8888
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "/opt/microgradplus/docker/healthcheck.py"]
ENTRYPOINT ["/opt/microgradplus/docker/entrypoint.sh"]

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
    CMD ["python3", "/opt/microgradplus/docker/healthcheck.py"]
ENTRYPOINT ["/opt/microgradplus/docker/entrypoint.sh"]
