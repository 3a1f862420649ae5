"""Find who submitted what: ``<student_id>/<notebook>.ipynb`` folders, flat LMS exports, or a zip.

Naming rules:

* ``<student_id>/<notebook>.ipynb`` (at any depth inside the student's folder):
  the notebook's name must be exactly a lab's notebook name, e.g.
  ``lab-1.7.2-operations.ipynb``; anything else is logged and ignored.
* ``<student_id>_<anything>_<notebook>.ipynb`` directly in SUBMISSIONS (flat LMS
  export): the student id is the text before the first underscore, and the name
  must end with ``_<notebook>.ipynb``; a resubmission suffix ``-<n>`` before
  ``.ipynb`` (``..._lab-1.7.2-operations-2.ipynb``) is accepted.
* When a student has two files for one lab, the last in name order is graded
  (highest resubmission number) and the student is flagged ``duplicate-submission:<lab>``.
* A zip is unpacked (safely: no absolute paths or ``..``, size caps) and read
  by the same rules; a single wrapping folder is looked through.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

RESUBMISSION = re.compile(r"-\d+$")
SKIPPED_PARTS = ("__MACOSX", ".ipynb_checkpoints")
MAX_ZIP_TOTAL = 4 * 1024**3
MAX_ZIP_MEMBERS = 100_000


@dataclass
class Discovery:
    """Students and their notebooks.

    Attributes:
        found: student id -> lab id -> notebook path (or a status string
            ``ungradable:too-large`` for a zip member over the cap).
        flags: student id -> flags (ignored files, duplicates).
        notes: lines for the log.
    """

    found: dict[str, dict[str, Path | str]] = field(default_factory=dict)
    flags: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def student(self, student_id: str) -> dict[str, Path | str]:
        self.flags.setdefault(student_id, [])
        return self.found.setdefault(student_id, {})

    def add(self, student_id: str, lab: str, path: Path | str) -> None:
        labs = self.student(student_id)
        if lab in labs:
            self.flags[student_id].append(f"duplicate-submission:{lab}")
            self.notes.append(
                f"{student_id}: two submissions for {lab}; grading {Path(str(path)).name}"
            )
        labs[lab] = path

    def ignore(self, student_id: str | None, path: Path, why: str) -> None:
        self.notes.append(f"ignored {path}: {why}")
        if student_id is not None:
            self.student(student_id)
            self.flags[student_id].append(f"ignored-file:{path.name}")


def _skipped(path: Path) -> bool:
    return any(part.startswith(".") or part in SKIPPED_PARTS for part in path.parts)


def flat_match(name: str, notebooks: dict[str, str]) -> tuple[str, str] | None:
    """``(student_id, lab)`` for a flat LMS file name, or None."""
    if "_" not in name or not name.endswith(".ipynb"):
        return None
    student = name.split("_", 1)[0]
    stem = name.removesuffix(".ipynb")
    for candidate in (stem, RESUBMISSION.sub("", stem)):
        for notebook, lab in notebooks.items():
            if candidate.endswith("_" + notebook.removesuffix(".ipynb")) and student:
                return student, lab
    return None


def discover(
    root: Path, notebooks: dict[str, str], *, unpack_to: Path, max_bytes: int
) -> Discovery:
    """Find the submissions under ``root`` (a folder or a zip).

    Args:
        root: SUBMISSIONS.
        notebooks: notebook file name -> lab id, for the labs being graded.
        unpack_to: an empty folder to unpack a zip into.
        max_bytes: the notebook size cap (zip members above it are not unpacked).
    """
    found = Discovery()
    if root.is_file() and zipfile.is_zipfile(root):
        root = unpack(root, unpack_to, max_bytes, found)
    entries = sorted(p for p in root.iterdir() if not _skipped(p.relative_to(root)))
    notebook_names = set(notebooks)
    for entry in entries:
        if entry.is_dir():
            student = entry.name
            found.student(student)
            for path in sorted(entry.rglob("*")):
                if _skipped(path.relative_to(root)) or not path.is_file():
                    continue
                if path.name in notebook_names:
                    found.add(student, notebooks[path.name], path)
                elif path.name.removesuffix(TOO_LARGE) in notebook_names:
                    lab = notebooks[path.name.removesuffix(TOO_LARGE)]
                    found.add(student, lab, "ungradable:too-large")
                elif path.suffix == ".ipynb":
                    found.ignore(student, path, "not a lab notebook name (renamed?)")
        elif entry.suffix == ".ipynb" or entry.name.endswith(TOO_LARGE):
            name = entry.name.removesuffix(TOO_LARGE)
            match = flat_match(name, notebooks)
            if match is None:
                owner = name.split("_", 1)[0] if "_" in name else ""
                why = "does not match <student>_<anything>_<notebook>.ipynb"
                found.ignore(owner or None, entry, why)
            else:
                found.add(
                    match[0], match[1], "ungradable:too-large" if name != entry.name else entry
                )
        else:
            found.notes.append(f"ignored {entry}: not a notebook")
    return found


TOO_LARGE = ".too-large"
"""Suffix of the empty placeholder left for a zip member over the size cap."""


def unpack(archive: Path, into: Path, max_bytes: int, found: Discovery) -> Path:
    """Unpack a zip safely; returns the folder to read (looking through one wrapping folder)."""
    total = 0
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()[:MAX_ZIP_MEMBERS]
        for info in members:
            name = PurePosixPath(info.filename)
            if info.is_dir() or name.is_absolute() or ".." in name.parts or not name.parts:
                continue
            target = into.joinpath(*name.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            if info.file_size > max_bytes and name.suffix == ".ipynb":
                target.with_name(target.name + TOO_LARGE).touch()
                continue
            total += info.file_size
            if info.file_size > max_bytes or total > MAX_ZIP_TOTAL:
                found.notes.append(f"not unpacked (size cap): {info.filename}")
                continue
            with zf.open(info) as src, open(target, "wb") as dst:
                dst.write(src.read(max_bytes + 1))
    children = [p for p in into.iterdir() if not _skipped(p.relative_to(into))]
    if len(children) == 1 and children[0].is_dir():
        inner = children[0]
        grandchildren = list(inner.iterdir())
        if grandchildren and all(p.is_dir() or "_" in p.name for p in grandchildren):
            return inner
    return into
