"""``python -m grader``: the instructor's (and learner's) command line.

Each command parses its options and makes one call into a plain function with
keyword-only arguments; the defaults live in :mod:`grader.config` and in those
functions' signatures. ``docs/instructor-guide.md`` documents every option.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grader import config


class CommandError(Exception):
    """A problem to report in one line (exit code 2)."""


def cmd_release(args: argparse.Namespace) -> int:
    from grader.assign import bundle, release

    if args.bundle is not None:
        if args.lab is None:
            raise CommandError("--bundle needs --lab")
        print(bundle.write_bundle(lab=args.lab, out=args.bundle))
        return 0
    if args.check:
        problems = release.check_release(solutions=args.solutions, labs=args.labs, lab=args.lab)
        for problem in problems:
            print(problem)
        print("labs/ is in sync with solutions/" if not problems else f"{len(problems)} problem(s)")
        return 1 if problems else 0
    for path in release.release(solutions=args.solutions, labs=args.labs, lab=args.lab):
        print(f"released {path}")
    return 0


def cmd_learner_env(args: argparse.Namespace) -> int:
    from grader.assign import learner_env

    out = learner_env.build_learner_env(
        out=args.out, python=args.python, venv=args.venv, tree_only=args.tree_only
    )
    print(out)
    return 0


def cmd_exchange_init(args: argparse.Namespace) -> int:
    from grader import exchange

    for path in exchange.init_exchange(
        root=args.exchange, course_id=args.course_id, owner=args.owner, group=args.group
    ):
        print(path)
    return 0


def cmd_autograde(args: argparse.Namespace) -> int:
    from grader.runs import autograde

    if args.shard is not None and args.seed is None:
        raise CommandError("--shard needs --seed: every shard of a batch grades with one seed")
    batch = autograde.autograde(
        submissions=args.submissions,
        out=args.out,
        jobs=args.jobs,
        timeout=args.timeout,
        seed=args.seed,
        labs=args.lab,
        solutions=args.solutions,
        progress=not args.no_progress,
        replace=args.replace,
        allow_reduced_isolation=args.allow_reduced_isolation,
        shard=args.shard,
        layout=args.layout,
        course=args.course,
        roster=args.roster,
    )
    graded = sum(1 for row in batch.rows if row.status == "graded")
    print(
        f"graded {graded} of {len(batch.rows)} students (seed {batch.seed}, "
        f"isolation: {batch.isolation}); results in {args.out}"
    )
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from grader.runs import merge

    out = merge.merge(shards=args.shards, out=args.out, solutions=args.solutions)
    print(f"merged {len(args.shards)} shards into {out}")
    return 0


def cmd_gradescope(args: argparse.Namespace) -> int:
    from grader.runs import gradescope

    zip_path = gradescope.build(
        lab=args.lab,
        out=args.out,
        seed=args.seed,
        hidden_visibility=args.hidden_visibility,
        allow_reduced_isolation=args.allow_reduced_isolation,
    )
    print(f"wrote {zip_path}")
    return 0


def _shard(text: str) -> Any:
    from grader.runs import shard

    try:
        return shard.Shard.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def cmd_validate(args: argparse.Namespace) -> int:
    from grader.learner import validate

    result = validate.validate(
        notebook=args.notebook,
        lab=args.lab,
        timeout=args.timeout,
        seed=args.seed,
        solutions=args.solutions,
        verbose=args.verbose,
    )
    return 0 if validate.passed(result) else 1


def cmd_report(args: argparse.Namespace) -> int:
    from grader.outputs import course_report, report

    if (
        args.html
        and not (args.out / "grades.csv").exists()
        and course_report.find_batches(args.out)
    ):
        print(f"wrote {course_report.write(args.out)}")  # a folder of batches: their report
        return 0
    if not (args.out / "grades.csv").exists():
        raise CommandError(f"{args.out / 'grades.csv'} not found: run autograde first")
    report.report(
        out=args.out, course=args.course, roster=args.roster, feedback_for=args.feedback_for
    )
    if args.html:
        print(f"wrote {args.out / course_report.REPORT_HTML} (and report.json, report/*.svg)")
    return 0


def cmd_override(args: argparse.Namespace) -> int:
    from grader.outputs import overrides, report

    if args.comment is None and not args.remove:
        raise CommandError("--comment is required (it is shown in the learner's feedback)")
    made = overrides.record(
        out=args.out,
        student=args.student,
        target=args.target,
        points=args.points,
        comment=args.comment or "",
        waive_late=args.waive_late,
        remove=args.remove,
    )
    report.refresh(args.out)
    for decision in made:
        what = (
            "late penalty waived"
            if decision.kind == "waive-late"
            else f"{decision.points:g} points"
        )
        print(f"{decision.student} {decision.target}: {what} ({decision.comment})")
    if args.remove:
        print(f"{args.student} {args.target}: decisions removed")
    return 0


def cmd_assemble(args: argparse.Namespace) -> int:
    from grader.learner import assemble

    return int(assemble.run(labs_dir=args.labs_dir, out=args.out))


def _course_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--course", type=Path, help="course.toml: due dates, extensions, late policy (kept in OUT)"
    )
    command.add_argument(
        "--roster", type=Path, help="roster.csv: id, name, email, sis_id, section (kept in OUT)"
    )


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m grader``."""
    main = argparse.ArgumentParser(prog="python -m grader", description=__doc__.split("\n")[0])
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")

    release = commands.add_parser("release", help="regenerate labs/ from solutions/")
    release.add_argument("--lab", help="only this lab (3, lab3, 1.7.3 or its notebook name)")
    release.add_argument("--check", action="store_true", help="verify labs/ is in sync; no writes")
    release.add_argument(
        "--bundle", type=Path, metavar="OUT", help="build the learner bundle of --lab"
    )
    release.add_argument("--solutions", type=Path, default=config.SOLUTIONS, help=argparse.SUPPRESS)
    release.add_argument("--labs", type=Path, default=config.LABS_DIR, help=argparse.SUPPRESS)
    release.set_defaults(run=cmd_release)

    env = commands.add_parser(
        "learner-env", help="the learner environment a hub's learner servers run from"
    )
    env.add_argument("--out", type=Path, required=True, help="folder: OUT/course and OUT/venv")
    env.add_argument("--python", help="interpreter the venv is made from (default: this one)")
    env.add_argument("--venv", type=Path, help="where the venv goes (default OUT/venv)")
    env.add_argument("--tree-only", action="store_true", help="write OUT/course only")
    env.set_defaults(run=cmd_learner_env)

    init = commands.add_parser(
        "exchange-init", help="create nbgrader's exchange for a course, private per learner"
    )
    init.add_argument("exchange", type=Path, metavar="EXCHANGE", help="the exchange's root")
    init.add_argument("--course-id", required=True, help="nbgrader's course id")
    init.add_argument("--owner", help="the instructor's account (default: this one)")
    init.add_argument("--group", help="the instructors' group (default: the owner's group)")
    init.set_defaults(run=cmd_exchange_init)

    grade = commands.add_parser("autograde", help="grade a folder or zip of submissions")
    grade.add_argument("submissions", type=Path, metavar="SUBMISSIONS")
    grade.add_argument("--out", type=Path, required=True, help="results folder")
    grade.add_argument(
        "-j", "--jobs", type=int, default=config.DEFAULT_JOBS, help="parallel sandboxes"
    )
    grade.add_argument("--timeout", type=float, help="per-cell time budget, seconds")
    grade.add_argument(
        "--seed", type=int, help="seed of the check inputs (default: random, recorded)"
    )
    grade.add_argument("--lab", action="append", help="grade only this lab (repeatable)")
    grade.add_argument("--solutions", type=Path, default=config.SOLUTIONS, help="source notebooks")
    grade.add_argument("--no-progress", action="store_true", help="no progress bar")
    grade.add_argument(
        "--replace", action="store_true", help="start OUT afresh instead of merging into it"
    )
    grade.add_argument(
        "--allow-reduced-isolation",
        action="store_true",
        help="grade with resource limits only where bubblewrap cannot run (stated in every output)",
    )
    grade.add_argument(
        "--shard", type=_shard, metavar="K/N", help="grade only shard K of N (1 <= K <= N)"
    )
    grade.add_argument(
        "--layout",
        choices=("canvas", "moodle", "blackboard", "nbgrader", "folders"),
        help="the submissions' layout (default: detected, and printed)",
    )
    _course_options(grade)
    grade.set_defaults(run=cmd_autograde)

    merge = commands.add_parser("merge", help="combine the results folders of --shard runs")
    merge.add_argument("shards", type=Path, nargs="+", metavar="OUT_K", help="shard folders")
    merge.add_argument("--out", type=Path, required=True, help="merged results folder")
    merge.add_argument("--solutions", type=Path, default=config.SOLUTIONS, help="source notebooks")
    merge.set_defaults(run=cmd_merge)

    scope = commands.add_parser("gradescope", help="build a Gradescope autograder zip for a lab")
    scope.add_argument("--lab", required=True, help="the lab (3, lab3, 1.7.3 or its notebook)")
    scope.add_argument("--out", type=Path, required=True, help="the zip to write")
    scope.add_argument(
        "--seed", type=int, help="seed of the check inputs (default: random, stored in the zip)"
    )
    scope.add_argument(
        "--hidden-visibility",
        default="after_published",
        choices=("hidden", "after_due_date", "after_published"),
        help="when learners see hidden checks' pass/fail (default after_published)",
    )
    scope.add_argument(
        "--allow-reduced-isolation",
        action="store_true",
        help="grade with resource limits only where Gradescope's container cannot run bubblewrap",
    )
    scope.set_defaults(run=cmd_gradescope)

    check = commands.add_parser("validate", help="run a notebook's visible checks in the sandbox")
    check.add_argument("notebook", type=Path, metavar="NOTEBOOK")
    check.add_argument(
        "--lab", help="the lab, e.g. 3, lab3, 1.7.3 (default: the notebook's own lab metadata)"
    )
    check.add_argument(
        "--verbose", action="store_true", help="show every table and hint, passing checks' too"
    )
    check.add_argument("--timeout", type=float, help="per-cell time budget, seconds")
    check.add_argument("--seed", type=int, default=0, help="seed of the check inputs")
    check.add_argument("--solutions", type=Path, default=config.SOLUTIONS, help=argparse.SUPPRESS)
    check.set_defaults(run=cmd_validate)

    build = commands.add_parser(
        "assemble", help="your framework from your lab 1.7.1-1.7.4 notebooks (for lab 1.7.5)"
    )
    build.add_argument(
        "--labs-dir",
        type=Path,
        help="the folder of your lab notebooks (default: the current folder, else ./labs)",
    )
    build.add_argument(
        "--out", type=Path, help="where mylearner/ is written (default: beside the notebooks)"
    )
    build.set_defaults(run=cmd_assemble)

    report = commands.add_parser("report", help="summarize OUT and write the LMS imports")
    report.add_argument("out", type=Path, metavar="OUT")
    _course_options(report)
    report.add_argument(
        "--feedback-for",
        choices=("canvas", "moodle", "nbgrader"),
        help="lay the feedback pages out for this system's bulk upload",
    )
    report.add_argument(
        "--html",
        action="store_true",
        help="the course report report.html (also for a folder of batches, one per folder)",
    )
    report.set_defaults(run=cmd_report)

    override = commands.add_parser("override", help="record an instructor's score for a learner")
    override.add_argument("out", type=Path, metavar="OUT")
    override.add_argument("student", metavar="STUDENT")
    override.add_argument("target", metavar="CHECK_OR_LAB", help="a check id or a lab")
    override.add_argument("points", type=float, metavar="POINTS", nargs="?")
    override.add_argument("--comment", help="why (shown in the learner's feedback; required)")
    override.add_argument(
        "--waive-late", action="store_true", help="lift the lab's late penalty (POINTS optional)"
    )
    override.add_argument(
        "--remove", action="store_true", help="drop the learner's decisions on CHECK_OR_LAB"
    )
    override.set_defaults(run=cmd_override)
    return main


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code."""
    args = parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, KeyError, ValueError, RuntimeError) as exc:
        message: Any = exc.args[0] if exc.args else exc
        print(f"error: {type(exc).__name__}: {message}", file=sys.stderr)
        return 2
