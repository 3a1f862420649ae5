"""The learners who need an instructor, read from a batch's rows and overrides.

Part of the course report (:mod:`grader.outputs.course_report`): ungradable notebooks with
what to ask the learner for, files handed in but not graded, integrity flags with what was
seen, and overrides, stale ones first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import grader.outputs.overrides as overrides
from grader.safetext import neutralise


class Batch(Protocol):
    """What this module reads of a results folder (``course_report.Batch``)."""

    folder: Path
    name: str
    meta: dict[str, Any]
    rows: list[dict[str, str]]

    def pages(self, lab: str) -> dict[str, str]: ...


ADVICE = {
    "invalid-json": "The file is not valid notebook JSON (cut off, or edited as text): ask for "
    "the notebook saved again in Jupyter and uploaded as it is.",
    "not-a-notebook": "The file is JSON but not a notebook: ask for the lab's .ipynb itself.",
    "timeout": "The notebook ran past its time limit and ignored the interrupt: ask them to "
    "find the cell that never ends (a loop that swallows KeyboardInterrupt) and resubmit.",
    "memory": "The notebook ran out of memory: ask them to remove the cell that builds huge "
    "arrays and resubmit.",
    "crash": "The notebook's process died (os._exit, a crash) or the grader failed: read "
    "autograde.log, then ask them to remove any exit call and resubmit.",
    "too-large": "The file is over the size cap: ask them to clear all outputs "
    "(Edit > Clear Outputs of All Cells) and resubmit.",
    "unreadable": "The file could not be read (a broken zip member): ask them to upload it again.",
    "symlink": "A symbolic link was handed in: ask for the notebook file itself.",
    "no-notebooks": "Nothing they handed in is a lab notebook: ask for the lab's .ipynb under "
    "its released name.",
    "no-gradable-file": "They handed files in, but none could be graded (see the files not "
    "graded): ask for the lab's .ipynb under its released name.",
}
"""What to ask a learner for, per ungradable reason."""

NOT_GRADED = {
    "ignored-file": "not a lab notebook name (renamed?)",
    "duplicate-submission": "a second notebook for the same lab",
    "symlink": "a symbolic link, never followed",
    "renamed": "graded for the lab asked for, under another name",
}
"""Flags that name a file handed in but not graded, and why."""
IGNORED_REASONS = {
    "renamed": "a notebook under another name",
    "not-a-notebook": "not a notebook",
    "other-lab": "another lab's notebook",
    "unreadable": "could not be read (or a zip nested too deep)",
    "duplicate": "an earlier upload; a later one was graded",
}
"""``ignored-file:<reason>:<name>``: each reason of discovery, said for the instructor."""

FLAG_MEANING = {
    "import-torch": "imports PyTorch (the lab asks for numpy only)",
    "import-micrograd_plus": "imports the reference engine",
    "import-importlib": "imports importlib (dynamic imports)",
    "import-ctypes": "imports ctypes",
    "import-subprocess": "imports subprocess",
    "os-system": "starts or signals processes",
    "exit": "calls an exit function",
    "exec": "runs code from a string (exec, called or renamed)",
    "eval": "evaluates code from a string (eval, called or renamed)",
    "compile": "compiles code from a string (compile, called or renamed)",
    "dynamic-import": "imports by name at run time",
    "module-attr-assign": "replaces an attribute of an imported module (e.g. np.allclose)",
    "sys-modules": "writes to sys.modules",
    "ipython-hook": "changes IPython's hooks",
    "builtins-edit": "changes builtins",
    "grader-internals": "touches the grader's internals",
    "introspection": "inspects frames or the interpreter",
    "computed-attribute": "fetches or sets a module's attribute by a name built at run time",
    "syntax-error": "a cell does not parse",
    "scan-failed": "a cell could not be scanned",
    "test-cell-edited": "a graded test cell was edited (restored from the source)",
    "test-cell-deleted": "a graded test cell was deleted",
    "test-cell-unknown": "a cell claims a grade id the lab does not have",
    "duplicate-grade-id": "two cells share one grade id",
    "metadata-tampered": "a test cell's points or metadata were changed",
    "sandbox-channel": "wrote to the sandbox's report channel",
    "not-on-roster": "handed in but not on the roster",
    "output-limit": "printed more output than kept",
}
"""One line per integrity flag kind: what was seen."""

UNSHOWN_FLAGS = ("late", "reduced-isolation", "override-stale")
"""Flags shown elsewhere: late work in each lab's figures, reduced isolation once per batch."""


def _flag_parts(flag: str, labs: list[str]) -> tuple[str, str, str]:
    """``lab:kind:detail (cell N, line M)`` -> (lab, kind, what was seen)."""
    lab, rest = "", flag
    head = flag.split(":", 1)
    if len(head) == 2 and head[0] in labs:
        lab, rest = head
    kind = re.split(r"[:\s(]", rest, maxsplit=1)[0]
    return lab, kind, rest


def attention(batches: Sequence[Batch]) -> dict[str, list[dict[str, Any]]]:
    """The learners who need an instructor: ungradable notebooks (with what to ask for), files
    not graded, integrity flags (with what was seen) and overrides (stale ones first)."""
    found: dict[str, list[dict[str, Any]]] = {
        "ungradable": [],
        "not_graded": [],
        "flags": [],
        "overrides": [],
    }
    for batch in batches:
        labs = list(batch.meta.get("labs") or [])
        check_labs: dict[str, str] = batch.meta.get("check_labs", {})
        pages = {lab: batch.pages(lab) for lab in labs}
        rows = {row["student_id"]: row for row in batch.rows}
        for student, row in rows.items():
            who = {"student": student, "name": row.get("name", ""), "batch": batch.name}
            bad = [(lab, row.get(f"{lab}_status", "")) for lab in labs]
            bad = [(lab, s) for lab, s in bad if s.startswith("ungradable")]
            if not bad and row.get("status", "").startswith("ungradable"):
                bad = [("", row["status"])]
            for lab, status in bad:
                reason = status.split(":", 1)[1] if ":" in status else status
                found["ungradable"].append(
                    {
                        **who,
                        "lab": lab,
                        "reason": reason,
                        "advice": ADVICE.get(reason, "Read autograde.log for this learner."),
                        "page": pages.get(lab, {}).get(student),
                    }
                )
            for flag in filter(None, row.get("flags", "").split("; ")):
                lab, kind, seen = _flag_parts(flag, labs)
                if kind in NOT_GRADED or kind.startswith("not-graded"):
                    name = seen.split(":", 1)[1] if ":" in seen else seen
                    why = NOT_GRADED.get(kind, kind)
                    reason, _, rest = name.partition(":")
                    if kind == "ignored-file" and reason in IGNORED_REASONS and rest:
                        name, why = rest, IGNORED_REASONS[reason]
                    found["not_graded"].append({**who, "file": name, "reason": why})
                elif kind not in UNSHOWN_FLAGS:
                    found["flags"].append(
                        {
                            **who,
                            "lab": lab,
                            "kind": kind,
                            "seen": seen,
                            "meaning": FLAG_MEANING.get(kind, ""),
                            "page": pages.get(lab, {}).get(student) if lab else None,
                        }
                    )
        for decision in overrides.read(batch.folder).values():
            lab = check_labs.get(decision.target, decision.target)
            row = rows.get(neutralise(decision.student), {})
            submitted = row.get(f"{lab}_submitted", "")
            stale = bool(submitted and decision.recorded and submitted > decision.recorded) or any(
                "stale" in f and decision.target in f for f in row.get("flags", "").split("; ")
            )
            found["overrides"].append(
                {
                    "student": neutralise(decision.student),
                    "name": row.get("name", ""),
                    "batch": batch.name,
                    "lab": lab,
                    "target": decision.target
                    + (" (late penalty waived)" if decision.kind == "waive-late" else ""),
                    "points": decision.points,
                    "comment": decision.comment,
                    "recorded": decision.recorded,
                    "submitted": submitted,
                    "stale": stale,
                }
            )
    found["overrides"].sort(key=lambda o: (not o["stale"], o["student"], o["target"]))
    for kind in ("ungradable", "not_graded", "flags"):
        found[kind].sort(key=lambda e: (e["student"], e["batch"], e.get("lab", "")))
    return found
