"""Print pip constraints that pin what the NGC image ships (torch, numpy, JupyterLab...).

Used by scripts/setup.sh and the Dockerfile so that installing MicroGrad+ into
the container never replaces the image's own builds.
"""

from __future__ import annotations

from importlib import metadata

KEEP = (
    "torch",
    "torchvision",
    "numpy",
    "jupyterlab",
    "notebook",
    "jupyter-server",
    "ipykernel",
    "matplotlib",
    "triton",
)


def main() -> None:
    for name in KEEP:
        try:
            print(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue


if __name__ == "__main__":
    main()
