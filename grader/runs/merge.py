"""Combine the results folders of ``autograde --shard K/N`` runs into one.

The merged folder is what a single ``autograde`` of the whole batch with the same seed
writes: the same ``grades.csv``, ``lms.csv``, summary, histogram, gradebook and feedback
pages; only the timings in ``grading.json`` and the log differ. It reuses the regrade
machinery of :mod:`grader.runs.autograde`: every shard's rows are read back as a previous
batch (:func:`grader.outputs.results.previous_batch`) and written as the rows kept by
:func:`grader.outputs.results.write_outputs`, with nothing graded now; the feedback pages are
copied as they are, and so are the learners' notebooks kept for formgrader
(``autograded/``) and the course files the shards were graded with (course file, roster,
overrides), which must be the same in every shard. The roster's learners who handed nothing
in are added here, once (a shard leaves them out: none of them is its own).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import cast

from grader import config
from grader.labs import get_lab
from grader.outputs.results import (
    SHARD_KEY,
    Batch,
    MergeError,
    Previous,
    csv_header,
    previous_batch,
    write_outputs,
)
from grader.pipeline.grading import load_key
from grader.runs.shard import Shard
from grader.safetext import LogFormatter

log = logging.getLogger("grader")

PER_STUDENT = ("feedback", "autograded")
"""Folders of a results folder that hold one entry per student."""
COURSE_FILES = ("course.toml", "roster.csv", "overrides.csv")
"""Files beside ``grades.csv`` that apply to the whole batch (:mod:`grader.outputs.exports`)."""


def read_shards(folders: Sequence[Path]) -> list[Previous]:
    """Every shard's batch, checked to be the shards ``1/N`` … ``N/N`` of one batch.

    Raises:
        MergeError: a folder without a batch or a shard mark; shards of different
            counts, seeds, labs, submissions or columns; a shard missing or given twice; a
            student in two shards.
    """
    parts: dict[int, Previous] = {}
    count = None
    for folder in folders:
        part = previous_batch(folder)
        if part is None:
            raise MergeError(f"{folder} holds no batch (no grades.csv)")
        mark = part.meta.get(SHARD_KEY)
        if not isinstance(mark, str):
            raise MergeError(f"{folder} was not graded with --shard K/N: nothing to merge")
        shard = Shard.parse(mark)
        if count is not None and shard.count != count:
            raise MergeError(f"{folder} is shard {shard}, another folder a shard of {count}")
        count = shard.count
        if shard.index in parts:
            raise MergeError(f"shard {shard} is given twice ({parts[shard.index].out}, {folder})")
        parts[shard.index] = part
    if count is None:
        raise MergeError("no shard folders given")
    missing = [str(k) for k in range(1, count + 1) if k not in parts]
    if missing:
        raise MergeError(f"shard(s) {', '.join(missing)} of {count} missing: merge all of them")
    ordered = [parts[k] for k in sorted(parts)]
    first = ordered[0]
    owner: dict[str, Path] = {}
    for part in ordered:
        for key in ("seed", "labs", "submissions"):
            if part.meta.get(key) != first.meta.get(key):
                raise MergeError(
                    f"{part.out} was graded with {key} {part.meta.get(key)}, {first.out} with "
                    f"{first.meta.get(key)}: shards of one batch share seed, labs and "
                    "submissions (is one folder left from an earlier run?)"
                )
        if part.header != first.header:
            raise MergeError(f"{part.out}/grades.csv has other columns than {first.out}")
        for row in part.rows:
            student = row.get("student_id", "")
            if student in owner:
                raise MergeError(f"{student} is in two shards ({owner[student]}, {part.out})")
            owner[student] = part.out
    return ordered


def merge(*, shards: Sequence[Path], out: Path, solutions: Path = config.SOLUTIONS) -> Path:
    """Merge the results folders ``shards`` of one sharded batch into ``out``.

    Args:
        shards: the ``--out`` folders of ``autograde --shard 1/N`` … ``--shard N/N``.
        out: the merged results folder (created; must not hold a batch yet).
        solutions: folder of the source notebooks the shards were graded with.

    Returns:
        ``out``.

    Raises:
        MergeError: the folders are not the complete shards of one batch, ``out`` already
            holds a batch, or the source notebooks now give other columns.
    """
    parts = read_shards(shards)
    _check_course_files(parts)
    if previous_batch(out) is not None:
        raise MergeError(f"{out} already holds a batch: merge into a new folder")
    meta = parts[0].meta
    seed = int(str(meta["seed"]))
    labs = [str(lab) for lab in cast("list[object]", meta.get("labs") or [])]
    keys = {lab: load_key(lab, source=solutions / get_lab(lab).notebook, seed=seed) for lab in labs}
    if csv_header(keys) != parts[0].header:
        raise MergeError(
            f"the source notebooks in {solutions} give other columns than the shards' grades.csv "
            "(their checks changed?): merge with the solutions the shards were graded with"
        )
    out.mkdir(parents=True, exist_ok=True)
    for folder in PER_STUDENT:
        _copy_entries(parts, out, folder)
    for name in COURSE_FILES:
        if (parts[0].out / name).is_file():
            shutil.copyfile(parts[0].out / name, out / name)
    _concatenate_logs(parts, out / "autograde.log")
    metas = [part.meta for part in parts]
    isolations = {str(m.get("isolation")) for m in metas}
    limits = replace(config.DEFAULT_LIMITS, cell_timeout=float(str(meta["cell_timeout"])))
    batch = Batch(
        keys,
        [],
        seed,
        out,
        "reduced" if "reduced" in isolations else isolations.pop(),
        limits,
    )
    started = min(datetime.fromisoformat(str(m["started"])).timestamp() for m in metas)
    handler = logging.FileHandler(out / "autograde.log", mode="a", encoding="utf-8")
    handler.setFormatter(LogFormatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.info("merge of %d shards: %s", len(parts), ", ".join(str(p.out) for p in parts))
        write_outputs(
            batch,
            started=started,
            submissions=Path(str(meta["submissions"])),
            jobs=sum(int(str(m.get("jobs", 1))) for m in metas),
            kept=[row for part in parts for row in part.rows],
        )
    finally:
        log.removeHandler(handler)
        handler.close()
    _merge_counts(out / "grading.json", metas)
    return out


def _check_course_files(parts: list[Previous]) -> None:
    """The course file, roster and overrides must be the same in every shard (or in none)."""
    for name in COURSE_FILES:
        contents = {
            (part.out / name).read_bytes() if (part.out / name).is_file() else None
            for part in parts
        }
        if len(contents) > 1:
            raise MergeError(
                f"the shards hold different {name} files: grade every shard with the same one"
            )


def _copy_entries(parts: list[Previous], out: Path, folder: str) -> None:
    """Every shard's entries of ``folder`` (one per student) into ``out/folder``; a name in two
    shards is an error."""
    target = out / folder
    for part in parts:
        source = part.out / folder
        if not source.is_dir():
            continue
        target.mkdir(exist_ok=True)
        for entry in sorted(source.iterdir()):
            if (target / entry.name).exists():
                raise MergeError(f"{folder}/{entry.name} is in two shards (the last: {part.out})")
            if entry.is_dir() and not entry.is_symlink():
                shutil.copytree(entry, target / entry.name, symlinks=True)
            elif entry.is_file() and not entry.is_symlink():
                shutil.copy2(entry, target / entry.name)


def _concatenate_logs(parts: list[Previous], log_path: Path) -> None:
    with open(log_path, "w", encoding="utf-8") as merged:
        for part in parts:
            shard_log = part.out / "autograde.log"
            if shard_log.is_file():
                merged.write(f"# --- {shard_log} (shard {part.meta.get(SHARD_KEY)})\n")
                merged.write(shard_log.read_text(encoding="utf-8", errors="replace"))


def _merge_counts(path: Path, metas: list[dict[str, object]]) -> None:
    """The counts of what was graded: the shards' together, as one run would record them."""
    meta = json.loads(path.read_text(encoding="utf-8"))
    graded = sum(int(str(m.get("graded_now", 0))) for m in metas)
    notebooks = sum(int(str(m.get("notebooks", 0))) for m in metas)
    busy = sum(
        float(str(m["seconds_per_notebook"])) * int(str(m.get("notebooks", 0)))
        for m in metas
        if m.get("seconds_per_notebook") is not None
    )
    meta["graded_now"] = graded
    meta["notebooks"] = notebooks
    meta["seconds_per_notebook"] = round(busy / notebooks, 2) if notebooks else None
    path.write_text(json.dumps(meta, indent=2) + "\n")
