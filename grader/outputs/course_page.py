"""``report.html``: the course report (:mod:`grader.outputs.course_report`) as one page.

The page is self-contained: its style is inline, its plots are inline SVG (also written as
``report/*.svg``), it runs no script and loads nothing, so it opens offline and can be sent
by e-mail. Every number shown carries a ``data-figure`` attribute naming what it is, so that
a test (or a scraper) can compare the page with ``grades.csv``. Learner ids and names are
escaped; links go only to the feedback pages beside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from grader.outputs.course_plots import (
    anchor,
    colour,
    e,
    heat_map,
    num,
    pct,
    progress_chart,
    score_chart,
)

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 1.5rem auto; color: #222;
       padding: 0 1rem; }
h1 { margin-bottom: .2rem; } h2 { border-bottom: 2px solid #36c; padding-bottom: .2rem; }
nav a { margin-right: 1rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f3f5f9; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.lab { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
.warn { border: 2px solid #b00; padding: .4rem 1rem; color: #b00; }
.muted { color: #666; } .stale { color: #b00; font-weight: bold; }
svg { max-width: 100%; height: auto; } svg text { font-family: system-ui, sans-serif; }
"""


def fig(name: str, text: str) -> str:
    """A number on the page, named for whoever reads the page back."""
    return f'<span data-figure="{e(name)}">{e(text)}</span>'


def href(path: str | None) -> str:
    return quote(path, safe="/._-@~") if path else ""


# The page ---------------------------------------------------------------------------------


def table(head: Iterable[str], rows: Iterable[Iterable[str]], css: str = "") -> str:
    """A table of cells already escaped."""
    parts = [f'<table class="{css}"><tr>' + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"]
    parts += ["<tr>" + "".join(rows_) + "</tr>" for rows_ in rows]
    return "".join(parts) + "</table>"


def td(text: str, css: str = "") -> str:
    return f'<td class="{css}">{text}</td>' if css else f"<td>{text}</td>"


def learner(student: str, page: str | None, name: str = "") -> str:
    shown = e(student) + (f' <span class="muted">({e(name)})</span>' if name else "")
    return f'<a href="{href(page)}">{shown}</a>' if page else shown


def cohort(lab: dict[str, Any]) -> str:
    key = lab["key"]
    reasons = ", ".join(f"{n} {e(r)}" for r, n in lab["ungradable_reasons"].items())
    rows = [
        ("learners", fig(f"{key}.learners", str(lab["learners"]))),
        ("graded", fig(f"{key}.graded", str(lab["graded"]))),
        ("missing", fig(f"{key}.missing", str(lab["missing"]))),
        (
            "ungradable",
            fig(f"{key}.ungradable", str(lab["ungradable"])) + (f" ({reasons})" if reasons else ""),
        ),
        ("median", fig(f"{key}.median", num(lab["median"])) + f" of {num(lab['max_score'])}"),
        (
            "middle half (Q1–Q3)",
            fig(f"{key}.q1", num(lab["q1"])) + " – " + fig(f"{key}.q3", num(lab["q3"])),
        ),
        (
            "lowest – highest",
            fig(f"{key}.min", num(lab["min"])) + " – " + fig(f"{key}.max", num(lab["max"])),
        ),
        ("mean", fig(f"{key}.mean", num(lab["mean"]))),
        ("late", fig(f"{key}.late", str(lab["late"]))),
        (
            "late penalty applied",
            fig(f"{key}.penalised", str(lab["penalised"]))
            + f" learner(s), {num(lab['penalty_points'])} points in all",
        ),
    ]
    figures = table(("figure", "value"), ([td(e(k)), td(v, "n")] for k, v in rows))
    where = f" (batch {e(lab['batch'])})" if lab["batch"] else ""
    return (
        f'<h3 id="{anchor("lab", key)}">{e(key)}: {e(lab["title"])}{where}</h3>'
        f'<div class="lab">{figures}{score_chart(lab)}</div>'
    )


def checks_section(lab: dict[str, Any], explained: dict[str, list[str]]) -> str:
    key = lab["key"]
    order = [c for t in lab["tasks"] for c in t["checks"]]
    checks = {c["id"]: c for c in lab["checks"]}
    rows = []
    for check_id in order:
        check = checks[check_id]
        names = ", ".join(
            f'<a href="#{anchor("misconception", m)}">{e(m)}</a>'
            for m in explained.get(check_id, [])
        )
        rows.append(
            [
                f'<td id="{anchor("check", check_id)}">{e(check_id)}</td>',
                td(
                    e(check["task"])
                    + (
                        f' <span class="muted">(cell {e(check["cell"])})</span>'
                        if check["cell"]
                        else ""
                    )
                ),
                td(fig(f"{key}.{check_id}.passed", str(check["passed"])), "n"),
                td(fig(f"{key}.{check_id}.graded", str(check["graded"])), "n"),
                td(pct(check["rate"]), "n"),
                td(names),
            ]
        )
    head = ("check", "task", "passed", "graded", "pass rate", "misconceptions seen")
    return (
        f"<h3>{e(key)}: {e(lab['title'])}</h3>{heat_map(lab)}"
        f"<details><summary>Every check of {e(key)}, least passed first</summary>"
        f"{table(head, rows)}</details>"
    )


def misconception_section(data: dict[str, Any]) -> str:
    items = data["misconceptions"]
    if not items:
        return "<p>No failing check matched a known misconception.</p>"
    rows = []
    for item in items:
        key = f"{item['lab']}.{item['id']}"
        believe = e(item["summary"])
        rest = item["explanation"][len(item["summary"]) :].strip()
        lesson = f'<br><span class="muted">{e(rest)}</span>' if rest else ""
        who = ", ".join(learner(x["id"], x["page"], x["name"]) for x in item["learners"])
        rows.append(
            [
                f'<td id="{anchor("misconception", item["id"])}"><b>{e(item["id"])}</b></td>',
                td(believe + lesson),
                td(
                    ", ".join(f'<a href="#{anchor("check", c)}">{e(c)}</a>' for c in item["checks"])
                ),
                td(
                    fig(f"{key}.count", str(item["count"]))
                    + " of "
                    + fig(f"{key}.graded", str(item["graded"])),
                    "n",
                ),
                td(pct(item["prevalence"]), "n"),
                td(who),
            ]
        )
    head = ("misconception", "what learners believe; what the lab teaches", "checks it explains",
            "learners", "of graded", "who")  # fmt: skip
    return table(head, rows)


def attention_section(data: dict[str, Any]) -> str:
    found = data["attention"]
    parts = []
    rows = [
        [
            td(learner(x["student"], x["page"], x["name"])),
            td(e(x["lab"])),
            td(fig(f"ungradable.{x['student']}.{x['lab']}", x["reason"])),
            td(e(x["advice"])),
        ]
        for x in found["ungradable"]
    ]
    parts.append(f"<h3>Ungradable notebooks ({len(rows)})</h3>")
    parts.append(table(("learner", "lab", "reason", "what to ask for"), rows) if rows else "")
    rows = [
        [td(learner(x["student"], None, x["name"])), td(e(x["file"])), td(e(x["reason"]))]
        for x in found["not_graded"]
    ]
    parts.append(f"<h3>Files handed in but not graded ({len(rows)})</h3>")
    parts.append(table(("learner", "file", "why not graded"), rows) if rows else "")
    rows = [
        [
            td(learner(x["student"], x["page"], x["name"])),
            td(e(x["lab"])),
            td(e(x["kind"])),
            td(f"<code>{e(x['seen'])}</code>"),
            td(e(x["meaning"])),
        ]
        for x in found["flags"]
    ]
    parts.append(f"<h3>Integrity flags ({len(rows)})</h3>")
    parts.append(
        table(("learner", "lab", "flag", "what was seen", "meaning"), rows)
        + '<p class="muted">Flags never change a score: they say where to look.</p>'
        if rows
        else ""
    )
    rows = [
        [
            td(learner(x["student"], None, x["name"])),
            td(e(x["target"])),
            td(num(x["points"]), "n"),
            td(e(x["comment"])),
            td(e(x["recorded"])),
            td('<span class="stale">stale</span>: handed in again since' if x["stale"] else ""),
        ]
        for x in found["overrides"]
    ]
    parts.append(f"<h3>Overrides ({len(rows)}), stale first</h3>")
    head = ("learner", "check or lab", "points", "comment", "recorded", "")
    parts.append(table(head, rows) if rows else "")
    return "".join(parts)


def progress_section(data: dict[str, Any]) -> str:
    if not data["progress"]:
        return "<p>One lab in this report: progress across labs shows once several are graded.</p>"
    keys = [lab["key"] for lab in data["labs"]]
    tops = {lab["key"]: lab["max_score"] for lab in data["labs"]}
    rows = []
    for entry in data["progress"]:
        cells = [td(learner(entry["student"], None, entry["name"]))]
        for key in keys:
            got = entry["labs"].get(key)
            if got is None:
                cells.append(td("", "muted"))
            elif got["score"] is None:
                cells.append(td(e(got["status"]), "muted"))
            else:
                share = got["score"] / tops[key] if tops[key] else None
                style = f' style="background:{colour(share)}"'
                cells.append(f'<td class="n"{style}>{num(got["score"])}</td>')
        rows.append(cells)
    return progress_chart(data) + table(("learner", *keys), rows)


def render(data: dict[str, Any]) -> str:
    """The page (UTF-8 HTML, no script, nothing loaded)."""
    title = "Course report: " + ", ".join(f"{lab['key']} {lab['title']}" for lab in data["labs"])
    explained: dict[str, list[str]] = {}
    for item in data["misconceptions"]:
        for check in item["checks"]:
            explained.setdefault(check, []).append(item["id"])
    batches = "; ".join(
        f"{e(b['name'] or 'this folder')} (labs {e(', '.join(b['labs']))}, seed {e(b['seed'])}, "
        f"{b['learners']} learners)"
        for b in data["batches"]
    )
    reduced = [b for b in data["batches"] if b["isolation"] == "reduced"]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>{e(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>{fig('learners', str(data['learners']))} learners in {len(data['batches'])} "
        f"batch(es): {batches}. Written "
        f'<time data-figure="generated">{e(data["generated"])}</time>.</p>',
    ]
    if reduced:
        parts.append(
            '<p class="warn">Graded with REDUCED isolation (no bubblewrap sandbox) in '
            f"{e(', '.join(b['name'] or 'this folder' for b in reduced))}.</p>"
        )
    parts.append(
        '<nav><a href="#cohort">Cohort</a><a href="#checks">Checks</a>'
        '<a href="#misconceptions">Misconceptions</a><a href="#attention">Needs attention</a>'
        '<a href="#progress">Progress</a></nav>'
    )
    parts.append(
        '<h2 id="cohort">The cohort, lab by lab</h2><p class="muted">Scores are those of graded '
        "learners (after late penalties and overrides); missing and ungradable notebooks are "
        "counted apart, never as 0.</p>"
    )
    parts += [cohort(lab) for lab in data["labs"]]
    parts.append(
        '<h2 id="checks">Checks: pass rates by task, least passed first</h2>'
        '<p class="muted">Each cell is one check; click it for its line in the table.</p>'
    )
    parts += [checks_section(lab, explained) for lab in data["labs"]]
    parts.append(
        '<h2 id="misconceptions">Misconceptions, most common first</h2><p class="muted">'
        "Prevalence among the learners graded on the misconception's lab; ids link to their "
        "feedback pages.</p>"
    )
    parts.append(misconception_section(data))
    parts.append('<h2 id="attention">Learners who need attention</h2>')
    parts.append(attention_section(data))
    parts.append('<h2 id="progress">Progress across labs</h2>')
    parts.append(progress_section(data))
    parts.append("</body></html>\n")
    return "".join(parts)
