"""nbgrader's exchange with each learner's submissions and feedback private to them.

nbgrader's default exchange hides a submission only by its name: ``inbound`` cannot be
listed, but the submission inside is world-readable and world-writable, and a feedback
page is world-readable under a name derived from the submission's secret. Here, with every
learner on their own system account (a hub's PAM users, or one uid per pod):

- :func:`init_exchange` (run once, by root or the instructor) creates the course's folders
  owned by the instructor: ``outbound`` 0755, ``inbound`` 3733 in the instructors' group
  (anyone may add an entry, no one but the instructors may list it, every entry inherits
  the group, and only an entry's owner may rename or delete it), ``feedback`` 0711.
- :class:`PrivateSubmit` (the learners' side) leaves a submission reachable by its owner
  and the instructors' group only: its folders 0750 (the top one 0770, so that the
  instructors may write feedback into it) in the instructors' group, nothing for others.
- :class:`PrivateReleaseFeedback` (the instructor's side) writes each page into a fresh
  folder inside its learner's own submission (which other learners cannot enter) and puts
  at nbgrader's usual place, ``feedback/<hash>.html``, a symbolic link to it: the learner's
  Assignments panel finds and fetches it as before, another learner gets EACCES even with
  the name.

- :class:`PrivateCollect` (the instructor's side) never follows a link: a learner owns their
  submission and could swap a file for a link to something only the instructors can read
  (``solutions/``), which nbgrader's collect would copy in as the learner's work.

``deploy/jupyterhub/nbgrader_config.py`` selects the three classes.
"""

from __future__ import annotations

import glob
import grp
import os
import pwd
import secrets
import shutil
from pathlib import Path

from nbgrader.exchange.default import ExchangeCollect, ExchangeReleaseFeedback, ExchangeSubmit
from nbgrader.utils import ignore_patterns, notebook_hash

PRIVATE = ~0o007 & 0o7777
"""Mask that removes the permissions of "other" (every account not owner or group)."""


def init_exchange(
    *, root: Path, course_id: str, owner: str | None = None, group: str | None = None
) -> list[Path]:
    """Create (or repair) a course's exchange folders with private permissions.

    Args:
        root: the exchange's root (``c.Exchange.root``); made 1777 like nbgrader's own.
        course_id: nbgrader's course id.
        owner: the instructor's account, a name or a numeric uid (default: this process's).
        group: the instructors' group, a name or a numeric gid (default: the owner's primary
            group, or the uid when the account has no entry, as in a container).

    Returns:
        The folders, root first.
    """
    if owner is None or not owner.isdigit():
        account = pwd.getpwnam(owner) if owner else pwd.getpwuid(os.geteuid())
        uid, primary = account.pw_uid, account.pw_gid
    else:
        uid = primary = int(owner)
    gid = (int(group) if group.isdigit() else grp.getgrnam(group).gr_gid) if group else primary
    root = Path(root)
    course = root / course_id
    folders = [
        (root, 0o1777, None),
        (course, 0o755, (uid, gid)),
        (course / "outbound", 0o755, (uid, gid)),
        (course / "inbound", 0o3733, (uid, gid)),
        (course / "feedback", 0o711, (uid, gid)),
    ]
    for path, mode, ids in folders:
        path.mkdir(parents=True, exist_ok=True)
        if ids is not None and (path.stat().st_uid, path.stat().st_gid) != ids:
            os.chown(path, *ids)
        path.chmod(mode)
    return [path for path, _, _ in folders]


class PrivateSubmit(ExchangeSubmit):
    """nbgrader's submit, leaving the submission to its owner and the instructors' group."""

    def set_perms(self, dest: str, fileperms: int, dirperms: int) -> None:
        # The folders keep other learners out. The files stay nbgrader's 0644: those written
        # after the copy (timestamp.txt, submission_secret.txt) are in the learner's own
        # group, not the instructors' (copying the folder's mode dropped its setgid bit), so
        # the instructors read them as "other", inside folders only they can enter.
        super().set_perms(dest, fileperms, dirperms & PRIVATE)

    def copy_files(self) -> None:
        old = os.umask(0o077)  # nothing is readable by others, even while it is copied
        try:
            super().copy_files()
        finally:
            os.umask(old)
        os.chmod(os.path.join(self.inbound_path, self.assignment_filename), 0o770)


class PrivateCollect(ExchangeCollect):
    """nbgrader's collect, leaving out every link found in a submission (logged)."""

    def do_copy(self, src: str, dest: str, log: object = None) -> None:
        nbgrader_ignore = ignore_patterns(
            exclude=self.coursedir.ignore,
            include=self.coursedir.include,
            max_file_size=self.coursedir.max_file_size,
            log=self.log,
        )

        def ignore(folder: str, names: list[str]) -> set[str]:
            links = {n for n in names if os.path.islink(os.path.join(folder, n))}
            for name in sorted(links):
                self.log.error("Not collected, a link: %s", os.path.join(folder, name))
            return set(nbgrader_ignore(folder, names)) | links

        if os.path.islink(src):
            self.log.error("Not collected, a link: %s", src)
            return
        shutil.copytree(src, dest, ignore=ignore)


class PrivateReleaseFeedback(ExchangeReleaseFeedback):
    """nbgrader's release_feedback, each page inside its learner's own submission."""

    def copy_files(self) -> None:
        inbound = os.path.join(self.course_path, "inbound")
        pages = sorted(glob.glob(os.path.join(self.src_path, "*.html")))
        for page in pages:
            folder = os.path.dirname(page)
            student, assignment = Path(folder).parts[-2:]
            secret = self._read(folder, student, assignment, "submission_secret.txt")
            if secret is None:
                self.log.error("No submission secret for %s: feedback not released", page)
                continue
            notebook_id = os.path.splitext(os.path.basename(page))[0]
            submission = self._submission(inbound, student, assignment, secret)
            if submission is None:
                self.log.error("No submission of %s left in %s: not released", student, inbound)
                continue
            private = self._write_private(submission, page)
            name = notebook_hash(secret=secret, notebook_id=notebook_id)
            link = os.path.join(self.dest_path, f"{name}.html")
            temporary = f"{link}.{secrets.token_hex(8)}"
            os.symlink(private, temporary)
            os.replace(temporary, link)
            self.log.info("Feedback for %s released to %s (-> %s)", student, link, private)

    def _read(self, folder: str, student: str, assignment: str, name: str) -> str | None:
        """``name`` beside the feedback page, else in the collected submission."""
        submitted = self.coursedir.format_path(
            self.coursedir.submitted_directory, student, assignment
        )
        for path in (os.path.join(folder, name), os.path.join(submitted, name)):
            if os.path.isfile(path):
                with open(path, encoding="utf-8") as handle:
                    return handle.read()
        return None

    @staticmethod
    def _submission(inbound: str, student: str, assignment: str, secret: str) -> str | None:
        """The learner's inbound submission holding ``secret``."""
        for folder in sorted(glob.glob(os.path.join(inbound, f"{student}+{assignment}+*"))):
            path = os.path.join(folder, "submission_secret.txt")
            if not os.path.islink(path) and os.path.isfile(path):
                with open(path, encoding="utf-8") as handle:
                    if handle.read() == secret:
                        return folder
        return None

    @staticmethod
    def _write_private(submission: str, page: str) -> str:
        """Copy ``page`` into a fresh folder of ours inside ``submission``.

        The learner owns ``submission`` and could plant links in it, so the folder is made
        under a random name and the page opened relative to it, never following a link.
        """
        folder = os.path.join(submission, f"feedback-{secrets.token_hex(8)}")
        os.mkdir(folder, 0o755)
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            os.fchmod(fd, 0o755)
            name = os.path.basename(page)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            out = os.open(name, flags, 0o644, dir_fd=fd)
            with open(page, "rb") as source, os.fdopen(out, "wb") as target:
                shutil.copyfileobj(source, target)
        finally:
            os.close(fd)
        return os.path.join(folder, name)
