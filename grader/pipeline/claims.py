"""Whose each entry of a download is, and which lab, time and attempt each learner's file is.

:func:`claim` is the one place that says who an entry belongs to and what it holds (a
learner's folder, zip or file, an exchange submission, a link, or nobody's file and why);
:func:`learner_file` and :func:`flat_file` say which lab a learner's file is for, when it was
handed in and which attempt it is (the :class:`~grader.batch.Handin`), or why it is not graded;
:mod:`grader.pipeline.discover` walks the download and acts on each answer, and
:mod:`grader.pipeline.layouts` holds the naming rules it applies. Nothing here reads a file:
the walker (:mod:`grader.pipeline.walk`) has read each entry's kind, owner and side text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import grader.pipeline.layouts as layouts
from grader.batch import Handin
from grader.pipeline.discovery import reason_for
from grader.pipeline.layouts import Name, lab_of
from grader.pipeline.walk import Entry
from grader.safetext import escape

HOLDS = ("note", "ignored", "link", "folder", "zip", "lms-file", "flat", "submitted", "inbound")
"""What a claimed entry is: logged only, a file no rule reads, a symbolic link, a learner's
folder, a learner's zip (plain folders), a file of an LMS learner, a flat export file, an
nbgrader learner's folder of assignments, an exchange submission."""


@dataclass(frozen=True)
class Rule:
    """What the layout's rule needs besides an entry: the layout, the labs' notebooks, the
    course timezone, Blackboard's usernames, nbgrader's kind of folder and the uids trusted
    to hand in for anyone (the instructor owning ``inbound/``, this run)."""

    layout: str
    notebooks: dict[str, str]
    zone: dt.tzinfo = dt.timezone.utc
    users: dict[str, str] = field(default_factory=dict)
    kind: str = ""
    trusted: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Claim:
    """One entry's answer: what it ``holds`` (one of :data:`HOLDS`), the learner's name as
    the download gives it (``student``; escaped into an id by discovery), what the LMS name
    says (``who``), the lab of a flat file, the labs a link could stand for (None: every lab),
    and for an ignored entry or a note, the reason and why."""

    holds: str
    student: str | None = None
    who: Name | None = None
    lab: str | None = None
    labs: list[str] | None = None
    reason: str = ""
    why: str = ""


def claim(rule: Rule, entry: Entry) -> Claim:
    """Whose ``entry`` (one entry of the download, or of nbgrader's ``submitted/`` or
    ``inbound/``) is, and what it holds."""
    if rule.layout == "nbgrader":
        return _nbgrader(rule, entry)
    name = entry.name
    who = layouts.owner(rule.layout, name, rule.zone, rule.users)
    if isinstance(who, str):
        return Claim("note", why=who)
    if entry.is_link:
        if who is not None:
            match = lab_of(who.file, rule.notebooks)
            return Claim("link", who.student, labs=[match[0]] if match else None)
        flat = layouts.flat_match(name, rule.notebooks)
        if flat is not None:
            return Claim("link", flat[0], labs=[flat[1]])
        return Claim("link", name)
    if entry.is_dir:
        if rule.layout in ("canvas", "blackboard"):
            return Claim("note", why=f"a folder in a {rule.layout} download")
        return Claim("folder", who.student if who else name, who)
    if who is not None:
        return Claim("lms-file", who.student, who)
    if rule.layout == "folders" and name.lower().endswith(".zip"):
        return Claim("zip", name[: -len(".zip")])
    if name.endswith(".ipynb") and rule.layout == "folders":
        return _flat(rule, name)
    if name.endswith(".ipynb"):
        return Claim(
            "ignored", reason="renamed", why=f"does not follow the {rule.layout} naming rule"
        )
    return Claim("ignored", reason="not-a-notebook", why="not a notebook, and no learner's")


def _flat(rule: Rule, name: str) -> Claim:
    """``<id>_<anything>_<notebook>.ipynb`` directly in SUBMISSIONS (plain folders)."""
    flat = layouts.flat_match(name, rule.notebooks)
    if flat is not None:
        return Claim("flat", flat[0], lab=flat[1])
    owner = name.split("_", 1)[0] if "_" in name else ""
    why = "does not match <student>_<anything>_<notebook>.ipynb"
    return Claim("flat", owner or None, reason=reason_for(name), why=why)


def _nbgrader(rule: Rule, entry: Entry) -> Claim:
    """``submitted/<id>/`` or the exchange's ``inbound/<id>+<assignment>+<time>/``: an entry
    of ``inbound/`` created by another account than the learner it names is not theirs."""
    if not entry.is_dir:
        if entry.is_link:
            return Claim("link", entry.name)
        return Claim("ignored", reason=reason_for(entry.name), why="not a submission folder")
    if rule.kind != "inbound":
        return Claim("submitted", entry.name)
    who = layouts.parse_inbound(entry.name)
    if who is None:
        return Claim("note", why="not <id>+<assignment>+<timestamp>")
    forger = not_owner(who, entry.account, entry.uid in rule.trusted)
    if forger is not None:
        return Claim("ignored", who.student, reason="not-owner", why=forger)
    return Claim("inbound", who.student, who)


def not_owner(who: Name, account: str | None, trusted: bool) -> str | None:
    """Why an exchange ``inbound`` entry named for ``who.student`` is not theirs: it was
    created by another named ``account`` (``inbound/`` is writable by every learner), unless
    that account is ``trusted`` (the instructor's, who owns ``inbound/``, or this run's);
    None when it is theirs or the account has no passwd entry (a copied exchange)."""
    if account is None or trusted or account == who.student:
        return None
    return f"created by account {account!r}, not by {who.student!r} whom it names"


@dataclass(frozen=True)
class File:
    """One learner's file: the lab it is for (None: not graded, for ``reason``), its name as
    shown (``<zip>/<member>`` inside a learner's LMS zip) and how it was handed in (None for
    an ignored file of a folder, which carries no time)."""

    lab: str | None
    shown: str
    handin: Handin | None
    reason: str = ""


def learner_file(
    own: str,
    shown: str,
    notebooks: dict[str, str],
    who: Name | None = None,
    when: dt.datetime | None = None,
    side: str | None = None,
) -> File:
    """A file of a learner: ``own`` its name as the learner gave it; ``who`` what its LMS
    name said (time, late flag, upload order), else the time of its folder (``when``) or of
    the ``timestamp.txt`` beside it (``side``, its text). The attempt is the LMS's upload order,
    then the copy number (``-1``, `` (1)``, ``-Copy1``)."""
    match = lab_of(own, notebooks)
    order: tuple[int, ...]
    if who is not None:
        submitted, late, order = who.submitted, who.late, (who.order,)
    else:
        stamp = layouts.timestamp(side) if when is None and side is not None else None
        submitted, late, order = when or stamp, False, ()
    if match is None:
        handin = Handin(escape(shown), submitted, late, order) if who is not None else None
        return File(None, shown, handin, reason_for(own))
    return File(match[0], shown, Handin(escape(shown), submitted, late, (*order, match[1])))


def flat_file(name: str, lab: str, notebooks: dict[str, str]) -> File:
    """A flat export's ``<id>_<anything>_<notebook>.ipynb`` for ``lab``: the attempt is the copy
    number of the notebook's name after the last ``_``."""
    number = lab_of(name.rsplit("_", 1)[-1], notebooks)
    return File(lab, name, Handin(escape(name), order=(number[1] if number else 0,)))
