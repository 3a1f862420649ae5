"""Tampered notebook files: test cells and metadata edited, notebooks broken, renamed or missing.

No code of the learner's own is involved: the autograder must notice what was done
to the notebook (or the submission folder) and grade accordingly.
"""

from __future__ import annotations

from grader.redteam.tamper.case import TamperCase

CASES: list[TamperCase] = [
    TamperCase(
        "edited-test-cell",
        "a wrong answer, and the test cells that would catch it edited to pass",
        "edit-tests",
        code="# tests edited by the learner\nprint('all tests passed')",
        base="bug",
        expect="bug",
        flags=("test-cell-edited",),
    ),
    TamperCase(
        "deleted-test-cell",
        "the correct code with the first graded test cell deleted",
        "delete-test",
        expect="deleted",
        flags=("test-cell-deleted",),
    ),
    TamperCase(
        "points-1000",
        "the correct code with a test cell's points set to 1000",
        "points",
        expect="full",
        flags=("metadata-tampered",),
        student="tamper-metadata",
    ),
    TamperCase(
        "duplicate-grade-id",
        "a graded test cell pasted twice (two cells with one grade_id)",
        "duplicate-test",
        expect="full",
        flags=("duplicate-grade-id",),
        student="tamper-metadata",
    ),
    TamperCase(
        "invalid-json",
        "a notebook file cut in half",
        "invalid-json",
        expect="ungradable:invalid-json",
    ),
    TamperCase(
        "not-a-notebook",
        "valid JSON that is not a notebook",
        "not-a-notebook",
        expect="ungradable:not-a-notebook",
    ),
    TamperCase(
        "too-large", "a notebook over the size cap", "too-large", expect="ungradable:too-large"
    ),
    TamperCase(
        "renamed-notebook",
        "the correct notebook saved under another name",
        "rename",
        expect="missing",  # its other lab is graded; the renamed file is flagged, not guessed
        flags=("ignored-file",),
    ),
    TamperCase("missing-notebook", "no notebook submitted at all", "missing", expect="missing"),
    TamperCase(
        "extra-notebook",
        "the correct notebook plus an unrelated one",
        "extra",
        expect="full",
        flags=("ignored-file",),
    ),
]
