"""Full isolation with bubblewrap, for root and unprivileged instructors alike.

:func:`command` builds the ``bwrap`` command line that starts the runner in new
user, mount, PID, network, IPC, UTS and cgroup namespaces, with a RAM-disk root
holding only ``/usr`` (and the usual links into it), the Python installation
(its own ``site-packages`` hidden), the sandbox's ``site`` folder and its allowed
packages, the learner's MNIST sample, a scratch home and ``/tmp``; every bind is
read-only. The repository, ``solutions/``, the
hidden checks, the other submissions, the results and the grader's own process do
not exist in there; the learner's processes die with the sandbox.

As root, bubblewrap sets the sandbox up with root's rights (so it can bind an
interpreter that lives in root's private home) and ``setpriv`` inside it switches
to a fresh unprivileged user id before Python starts, so that ``RLIMIT_NPROC``
bounds a fork loop and nothing it leaves belongs to a real user. Without root it
runs as the instructor's own user id in its own user namespace (where the process
limit counts only the sandbox's processes).
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

INSTALL_HINT = (
    "full isolation needs bubblewrap with user namespaces: install it "
    "(Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap) and make "
    "sure unprivileged user namespaces are enabled (sysctl kernel.unprivileged_userns_clone=1 "
    "or user.max_user_namespaces > 0; on Ubuntu 24.04+ an AppArmor profile for bwrap, or "
    "kernel.apparmor_restrict_unprivileged_userns=0). In a container, run it with "
    "--security-opt seccomp=unconfined or use --privileged. Or pass "
    "--allow-reduced-isolation to grade with resource limits only."
)


def tool(name: str) -> str | None:
    """Absolute path of a system tool, also off a plain PATH (``/usr/sbin``)."""
    extra = os.pathsep.join(["/usr/bin", "/bin", "/usr/sbin", "/sbin"])
    return shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + extra)


def interpreter() -> Path:
    """The real interpreter binary (a virtual environment's ``python`` is a symlink to it)."""
    return Path(os.path.realpath(sys.executable))


def site_packages_dirs() -> list[Path]:
    """Folders of third-party packages this machine's Pythons can see (hidden in the sandbox)."""
    dirs = {Path(p) for p in sys.path if p.endswith(("site-packages", "dist-packages"))}
    for root in {sys.base_prefix, sys.prefix, "/usr", "/usr/local"}:
        for kind in ("site-packages", "dist-packages"):
            dirs.update(Path(p) for p in glob.glob(f"{root}/lib*/python3*/{kind}"))
    return sorted(d for d in dirs if d.is_dir() and not d.is_symlink())


def command(
    *,
    site: Path,
    mounts: list[tuple[Path, str]],
    data: list[tuple[Path, str]],
    scratch: int,
    uid: int | None,
    env: dict[str, str],
    argv: list[str],
) -> list[str]:
    """The command line that runs ``argv`` inside a fresh bubblewrap sandbox.

    Args:
        site: the folder seen as ``/site``.
        mounts: (installed folder, mount point inside ``/site``) pairs.
        data: (file, path inside the sandbox) pairs, e.g. the MNIST sample.
        scratch: size of each RAM disk (``/home``, ``/tmp``), bytes.
        uid: as root, the unprivileged user id the sandbox runs as; None without root
            (the sandbox then runs in its own user namespace as the caller).
        env: the whole environment inside.
        argv: what to run inside.
    """
    bwrap = tool("bwrap")
    if bwrap is None:
        raise FileNotFoundError("bwrap")
    if uid is None:  # unprivileged: everything in a new user namespace
        spaces = ["--unshare-all", "--unshare-user", "--disable-userns"]
    else:  # root: namespaces without a user namespace, then a fresh user id inside
        spaces = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
        spaces += ["--unshare-cgroup-try", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    args = [bwrap, *spaces, "--die-with-parent", "--new-session", "--clearenv"]
    args += ["--hostname", "sandbox", "--size", str(scratch), "--tmpfs", "/"]
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / top
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), f"/{top}"]
        elif path.is_dir():
            args += ["--ro-bind", str(path), f"/{top}"]
    args += ["--ro-bind", "/usr", "/usr"]
    prefix = Path(sys.base_prefix)
    if not prefix.is_relative_to("/usr"):
        for folder in reversed(prefix.parents[:-1]):  # made 0700 by bubblewrap otherwise
            args += ["--perms", "0755", "--dir", str(folder)]
        args += ["--ro-bind", str(prefix), str(prefix)]
    for packages in site_packages_dirs():  # the interpreter's own third-party packages
        if packages.is_relative_to("/usr") or packages.is_relative_to(prefix):
            args += ["--size", "4096", "--tmpfs", str(packages), "--remount-ro", str(packages)]
    args += ["--ro-bind", str(site), "/site"]
    for src, point in mounts:
        args += ["--ro-bind", str(src), f"/site/{point}"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--size", str(scratch), "--perms", "1777", "--tmpfs", "/tmp"]
    args += ["--size", str(scratch), "--perms", "0777", "--tmpfs", "/home"]
    for src, dest in data:
        for folder in reversed(Path(dest).parents[:-1]):
            args += ["--perms", "0755", "--dir", str(folder)]
        args += ["--ro-bind", str(src), dest]
    args += ["--symlink", "home/data", "/data", "--remount-ro", "/", "--chdir", "/home"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    if uid is None:
        return [*args, "--", *argv]
    setpriv = tool("setpriv")
    if setpriv is None:
        raise FileNotFoundError("setpriv")
    drop = [setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs"]
    return [*args, "--", *drop, "--", *argv]


@functools.cache
def available() -> str:
    """Empty when a bubblewrap sandbox starts here; otherwise why not."""
    if os.name != "posix" or sys.platform != "linux":
        return "bubblewrap sandboxes need Linux"
    if tool("bwrap") is None:
        return "bwrap is not installed"
    if os.geteuid() == 0 and tool("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    try:
        argv = command(
            site=Path("/usr"),
            mounts=[],
            data=[],
            scratch=1 << 20,
            uid=65534 if os.geteuid() == 0 else None,
            env={"PATH": "/usr/bin:/bin"},
            argv=[str(interpreter()), "-S", "-c", "print('ok')"],
        )
        probe = subprocess.run(
            argv,
            capture_output=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bwrap could not be started: {exc}"
    if probe.returncode != 0 or probe.stdout.strip() != b"ok":
        message = probe.stderr.decode(errors="replace").strip().splitlines()
        return f"bwrap failed: {message[-1] if message else f'exit code {probe.returncode}'}"
    return ""
