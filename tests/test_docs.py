"""The Markdown documentation stays true to the repository it describes.

Relative links resolve (files and heading anchors); every ``make`` target and every
``python -m grader`` command the docs name exists; every check id they quote is a
visible check; the quick reference lists every operation of the engine; the README
keeps its promises (two set-up commands, the container path, a benchmarks section).
"""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {".venv", ".git", "node_modules", "build", "out", ".pytest_cache", ".hypothesis"}
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|!\[[^\]]*\]\(([^)\s]+)\)")
CODE_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def markdown_files() -> list[Path]:
    """The project's Markdown files (not those of environments or build outputs)."""
    found = []
    for path in sorted(ROOT.rglob("*.md")):
        parts = set(path.relative_to(ROOT).parts[:-1])
        if not parts & SKIP_DIRS and not any(p.endswith(".egg-info") for p in parts):
            found.append(path)
    return found


def prose(path: Path) -> str:
    """A Markdown file without its fenced code blocks (links there are code, not links)."""
    return CODE_FENCE.sub("", path.read_text(encoding="utf-8"))


def code(path: Path) -> str:
    """The commands of a Markdown file: its fenced blocks' lines and its `inline code`."""
    text = path.read_text(encoding="utf-8")
    fenced = [block.strip("`") for block in CODE_FENCE.findall(text)]
    inline = re.findall(r"`([^`\n]+)`", CODE_FENCE.sub("", text))
    return "\n".join(fenced + inline)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|<[^>]+>", "", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = "".join(ch for ch in text if ch.isalnum() or ch in " -")
    return text.replace(" ", "-")


@cache
def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file (repeated headings get -1, -2, ...)."""
    seen: dict[str, int] = {}
    result = set()
    for line in prose(path).splitlines():
        match = re.match(r"^#{1,6}\s+(.*)$", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            result.add(base if count == 0 else f"{base}-{count}")
    return result


def relative_links(path: Path) -> list[str]:
    links = []
    for match in LINK.finditer(prose(path)):
        target = match.group(1) or match.group(2)
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:, ...
            links.append(target)
    return links


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    """Does every relative link of this Markdown file point at a file (and heading) that exists?"""
    broken = []
    for link in relative_links(path):
        target, _, anchor = link.partition("#")
        file = (path.parent / target).resolve() if target else path
        if not file.exists():
            broken.append(f"{link} (no such file)")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{link} (no such heading in {file.name})")
    assert not broken, f"{path.relative_to(ROOT)}: broken links: {broken}"


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.MULTILINE))


def test_make_targets_named_in_the_docs_exist() -> None:
    """Is every `make <target>` the Markdown files name a target of the Makefile?"""
    targets = make_targets()
    missing = {}
    for path in markdown_files():
        named = set(re.findall(r"^\s*make ([a-z][a-z0-9_-]*)", code(path), re.MULTILINE))
        unknown = sorted(named - targets)
        if unknown:
            missing[str(path.relative_to(ROOT))] = unknown
    assert not missing, f"make targets not in the Makefile: {missing}"


@cache
def grader_commands() -> set[str]:
    result = subprocess.run(
        [sys.executable, "-m", "grader", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    block = re.search(r"\{([a-z,_-]+)\}", result.stdout)
    if block:
        return set(block.group(1).split(","))
    return set(re.findall(r"^\s{4}([a-z][a-z_-]*)\b", result.stdout, re.MULTILINE))


def test_grader_commands_named_in_the_docs_exist() -> None:
    """Is every `python -m grader <cmd>` the docs name a command of the grader's CLI?"""
    if not (ROOT / "grader" / "cli.py").exists():
        pytest.skip("grader/cli.py does not exist yet")
    commands = grader_commands()
    assert {"release", "autograde", "validate", "report"} <= commands
    missing = {}
    for path in markdown_files():
        named = set(re.findall(r"python3? -m grader ([a-z][a-z_-]*)", code(path)))
        unknown = sorted(named - commands)
        if unknown:
            missing[str(path.relative_to(ROOT))] = unknown
    assert not missing, f"grader commands the CLI does not have: {missing}"


def visible_check_ids() -> set[str]:
    from grader.checking.spec import load_lab
    from grader.labs import LABS

    ids = set()
    for lab in LABS:
        try:
            ids |= {s.id for s in load_lab(lab) if not s.hidden}
        except ModuleNotFoundError:
            continue
    return ids


def test_check_ids_quoted_in_the_docs_are_visible_checks() -> None:
    """Does every check id the learner docs quote name a visible check that exists?"""
    known = visible_check_ids()
    stale = {}
    for name in ("STUDY_GUIDE.md", "QUICK_REFERENCE.md", "QUICKSTART.md", "README.md"):
        path = ROOT / name
        if not path.exists():
            continue
        quoted = set(re.findall(r"`(lab[1-5](?:\.[a-z0-9_]+){1,2})`", path.read_text("utf-8")))
        quoted |= set(re.findall(r"check\(\"(lab[1-5][a-z0-9_.]*)\"", path.read_text("utf-8")))
        unknown = sorted(quoted - known)
        if unknown:
            stale[name] = unknown
    assert not stale, f"check ids that are not visible checks: {stale}"


def test_quick_reference_lists_every_operation() -> None:
    """Does QUICK_REFERENCE.md's table have a row for every operation ops.py attaches to Tensor?"""
    text = (ROOT / "QUICK_REFERENCE.md").read_text(encoding="utf-8")
    table = "\n".join(line for line in text.splitlines() if line.startswith("| `"))
    attached = re.findall(
        r"^Tensor\.(\w+) = (?:property\()?(\w+)",
        (ROOT / "micrograd_plus" / "ops.py").read_text(),
        re.M,
    )
    assert attached, "micrograd_plus/ops.py attaches no operation to Tensor"
    methods = {"__matmul__": "@", "__rmatmul__": "@", "__getitem__": "[", "T": ".T"}
    missing = []
    for method, function in attached:
        spelled = methods.get(method, method)
        if spelled not in table and f"`{function}`" not in table:
            missing.append(method)
    assert not missing, f"operations missing from QUICK_REFERENCE.md: {missing}"
    for primitive in ("a + b", "a * b", "a ** k", "a.sum("):
        assert primitive in table, primitive


def test_study_guide_covers_every_lab() -> None:
    """Does STUDY_GUIDE.md give each lab objectives and its common mistakes?"""
    text = (ROOT / "STUDY_GUIDE.md").read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.MULTILINE)
    for number in range(1, 6):
        (section,) = [s for s in sections if s.startswith(f"Lab 1.7.{number} ")]
        assert "**Objectives.**" in section, number
        assert "**Common mistakes" in section, number
        rows = [
            line for line in section.splitlines() if line.startswith("| ") and "---" not in line
        ]
        assert len(rows) >= 6, f"lab 1.7.{number}: fewer than five mistakes"


@pytest.fixture(scope="module")
def readme() -> str:
    path = ROOT / "README.md"
    if not path.exists():
        pytest.skip("README.md is not written yet")
    return path.read_text(encoding="utf-8")


def test_readme_gives_the_two_set_up_commands(readme: str) -> None:
    """Does the README's set-up give exactly `make lab` and `make test` as commands?"""
    sections = re.split(r"^## ", readme, flags=re.MULTILINE)
    (section,) = [s for s in sections if s.lower().startswith(("set up", "setup", "set-up"))]
    commands = re.findall(r"^```(?:bash|sh)?\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    lines = [
        line.split("#")[0].strip()
        for block in commands
        for line in block.splitlines()
        if line.split("#")[0].strip()
    ]
    assert lines == ["make lab", "make test"], lines


def test_readme_shows_the_container_path(readme: str) -> None:
    """Does the README show docker build, docker run with the GPU and port 8888, compose,
    and the NGC tag the Dockerfile uses?"""
    tag = re.search(r"ARG NGC_TAG=(\S+)", (ROOT / "Dockerfile").read_text())
    assert tag
    assert "docker build" in readme
    assert re.search(r"docker run --gpus all .*-p 8888:8888", readme)
    assert "docker compose up" in readme
    assert f"nvcr.io/nvidia/pytorch:{tag.group(1)}-py3" in readme


def test_readme_has_a_benchmarks_section(readme: str) -> None:
    """Does the README keep a Benchmarks section for the measured figures?"""
    assert re.search(r"^## Benchmarks", readme, re.MULTILINE)
    section = readme.split("## Benchmarks", 1)[1]
    assert "<!-- BENCHMARKS -->" in section or re.search(r"\d+(\.\d+)?\s*(s|×|%)", section)


def test_readme_links_the_guides(readme: str) -> None:
    """Does the README point learners and instructors to their guides?"""
    for target in (
        "QUICKSTART.md",
        "STUDY_GUIDE.md",
        "QUICK_REFERENCE.md",
        "docs/instructor-guide.md",
        "data/README.md",
    ):
        assert f"]({target}" in readme, target
