"""Full isolation as root: namespaces, a chroot on a RAM disk, a fresh unprivileged user.

:func:`setup_script` writes the shell script that runs as root inside new
network, mount, PID, IPC and UTS namespaces: it mounts a size-limited tmpfs as
the new root, binds read-only ``/usr``, the Python installation (its own
``site-packages`` hidden under empty tmpfs), the sandbox's ``site`` folder and
its allowed packages, the MNIST data and the job file, then ``chroot``s and
drops to an unprivileged user id with ``setpriv`` before starting the runner.
Nothing else of the machine (the repository, ``solutions/``, submissions,
results) exists in there.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from grader import config

SETUP_FAILED_EXIT = 97
"""Exit code of the namespace setup script when a mount fails (a grader problem)."""


def site_packages_dirs() -> list[Path]:
    """Folders of third-party packages this machine's Pythons can see (hidden in the chroot)."""
    import glob

    dirs = {Path(p) for p in sys.path if p.endswith(("site-packages", "dist-packages"))}
    for root in {sys.base_prefix, sys.prefix, "/usr", "/usr/local"}:
        for kind in ("site-packages", "dist-packages"):
            dirs.update(Path(p) for p in glob.glob(f"{root}/lib*/python3*/{kind}"))
    return sorted(d for d in dirs if d.is_dir() and not d.is_symlink())


def interpreter() -> Path:
    """The real interpreter binary (a virtual environment's ``python`` is a symlink to it)."""
    return Path(os.path.realpath(sys.executable))


def tool(name: str) -> str:
    """Absolute path of a system tool (``chroot`` lives in ``/usr/sbin``, off a plain PATH)."""
    extra = os.pathsep.join(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
    return shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + extra) or name


class Script:
    """The namespace setup as shell lines (rendered for ``sh``); folders are made in one go."""

    def __init__(self) -> None:
        self.folders: list[Path] = []
        self.files: list[Path] = []
        self.lines: list[str] = []

    def add(self, name: str, *argv: str | Path) -> None:
        self.lines.append(" ".join(shlex.quote(str(a)) for a in [tool(name), *argv]))

    def bind(self, src: Path, dst: Path) -> None:
        """A read-only bind mount (util-linux applies ``ro`` to the bind itself)."""
        (self.files if src.is_file() else self.folders).append(dst)
        self.add("mount", "--bind", "-o", "ro", src, dst)

    def render(self, first: list[str], run: list[str]) -> str:
        """``first`` lines, then folders and mount points, the mounts, and ``run``."""
        make = []
        if self.folders:
            make.append(" ".join(shlex.quote(str(a)) for a in [tool("mkdir"), "-p", *self.folders]))
        if self.files:
            make.append(" ".join(shlex.quote(str(a)) for a in [tool("touch"), *self.files]))
        body = [f"{line} || exit {SETUP_FAILED_EXIT}" for line in [*first, *make, *self.lines]]
        quoted = " ".join(shlex.quote(a) for a in run)
        return "\n".join([*body, quoted, "exit $?", ""])


def setup_script(
    base: Path, binds: list[tuple[Path, Path]], uid: int, limits: config.Limits
) -> str:
    """The shell script that builds the chroot in ``base/root`` and starts the runner in it.

    The runner sees the site folder as ``/site``, its home and working folder as ``/home``.
    """
    root = base / "root"
    scratch = f"size={limits.scratch},mode=755"
    first = [
        " ".join([tool("mount"), "-t", "tmpfs", "-o", scratch, "tmpfs", shlex.quote(str(root))])
    ]
    script = Script()
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr"):
        path = Path("/") / top
        if path.is_symlink():
            script.add("ln", "-s", os.readlink(path), root / top)
        elif path.is_dir():
            script.bind(path, root / top)
    prefix = Path(sys.base_prefix)
    if not prefix.is_relative_to("/usr"):
        script.bind(prefix, root / prefix.relative_to("/"))
    for packages in site_packages_dirs():  # the interpreter's own third-party packages
        if packages.is_relative_to("/usr") or packages.is_relative_to(prefix):
            target = root / packages.relative_to("/")
            script.add("mount", "-t", "tmpfs", "-o", "ro,size=4k", "tmpfs", target)
    script.bind(base / "site", root / "site")
    for src, mount_point in binds:
        script.bind(src, root / "site" / mount_point.relative_to(base / "site"))
    script.folders += [root / "home/data", root / "tmp", root / "proc"]
    for dev in ("null", "zero", "urandom", "random"):
        script.files.append(root / "dev" / dev)
        script.add("mount", "--bind", f"/dev/{dev}", root / "dev" / dev)
    script.folders.append(root / "dev")
    script.add("mount", "-t", "proc", "proc", root / "proc")
    sample = config.DATA / "mnist_sample.npz"
    if sample.exists():
        script.bind(sample, root / "home/data/mnist_sample.npz")
    if (config.DATA / "MNIST" / "raw").is_dir():
        script.bind(config.DATA / "MNIST" / "raw", root / "home/data/MNIST/raw")
    script.add("ln", "-s", "home/data", root / "data")  # for load_mnist(root="../data")
    script.bind(base / "job.json", root / "job.json")
    script.add("chmod", "1777", root / "tmp")
    script.add("chown", f"{uid}:{uid}", root / "home")
    run = [
        tool("chroot"), str(root), tool("setpriv"), f"--reuid={uid}", f"--regid={uid}",
        "--clear-groups", "--no-new-privs", "--", str(interpreter()), "-s", "-S",
        "/site/grader/_runner.py", "/job.json",
    ]  # fmt: skip
    return script.render(first, run)


@functools.cache
def full_isolation_available() -> bool:
    """Whether namespaces, chroot and a user switch work here (root with the util-linux tools)."""
    if os.name != "posix" or os.geteuid() != 0:
        return False
    if not all(Path(tool(t)).is_absolute() for t in ("unshare", "setpriv", "chroot", "mount")):
        return False
    probe = subprocess.run(
        [tool("unshare"), "--net", "--mount", "--pid", "--fork", "--propagation", "private",
         "sh", "-c", "mount -t tmpfs tmpfs /mnt 2>/dev/null || mount -t tmpfs tmpfs /tmp"],
        capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    return probe.returncode == 0
