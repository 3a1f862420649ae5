"""The course report's plots as SVG: each lab's score distribution and heat map of pass
rates, and the cohort's progress across labs.

Plain SVG text, written here without a plotting library, so that the same results give the
same bytes (no dates, no random ids) and the page can hold them inline; also written as
``OUT/report/*.svg`` (:func:`plots`).
"""

from __future__ import annotations

import html
import itertools
from typing import Any

BAR, MISSING, UNGRADABLE = "#36c", "#999", "#e08a00"


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


def num(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def anchor(*parts: str) -> str:
    """An HTML id from names (``check``, ``lab1.add.forward``)."""
    return "-".join("".join(c if c.isalnum() or c in "._-" else "_" for c in p) for p in parts)


def score_chart(lab: dict[str, Any]) -> str:
    """The lab's score distribution of graded learners, then missing and ungradable as bars of
    their own (never as scores of 0)."""
    bars = [(b["label"], b["count"], BAR) for b in lab["bins"]]
    bars += [("", 0, ""), ("missing", lab["missing"], MISSING)]
    bars += [("ungradable", lab["ungradable"], UNGRADABLE)]
    width, height, left, bottom, top = 600, 250, 40, 55, 42
    step = (width - left - 50) / len(bars)
    peak = max([count for _, count, _ in bars] + [1])
    scale = (height - bottom - top) / peak
    title = (
        f"{lab['title']}: scores of {lab['graded']} graded learners (of {num(lab['max_score'])})"
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{e(title)}">',
        f"<title>{e(title)}</title>",
        f'<text x="{left}" y="18" font-size="13" font-weight="bold">{e(title)}</text>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 50}" y2="{height - bottom}" '
        'stroke="#444"/>',
    ]
    for index, (label, count, colour) in enumerate(bars):
        if not colour:
            continue
        x = left + index * step + 2
        h = count * scale
        y = height - bottom - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{step - 4:.1f}" height="{h:.1f}" '
            f'fill="{colour}"><title>{e(label)}: {count}</title></rect>'
        )
        parts.append(
            f'<text x="{x + (step - 4) / 2:.1f}" y="{y - 4:.1f}" font-size="11" '
            f'text-anchor="middle">{count}</text>'
        )
        rotate = len(label) > 3
        lx, ly = x + (step - 4) / 2, height - bottom + 14
        transform = f' transform="rotate(35 {lx:.1f} {ly:.1f})"' if rotate else ""
        anchor_at = "start" if rotate else "middle"
        parts.append(
            f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="10" text-anchor="{anchor_at}"'
            f"{transform}>{e(label)}</text>"
        )
    parts.append(
        f'<text x="12" y="{(height - bottom + top) / 2:.1f}" font-size="11" '
        f'transform="rotate(-90 12 {(height - bottom + top) / 2:.1f})" '
        'text-anchor="middle">learners</text></svg>'
    )
    return "".join(parts)


def colour(rate: float | None) -> str:
    """Red (none passed) through yellow to green (all passed); grey when nobody was graded."""
    if rate is None:
        return "#eee"
    stops = [(0.0, (215, 48, 39)), (0.5, (254, 224, 139)), (1.0, (26, 152, 80))]
    for (a, ca), (b, cb) in itertools.pairwise(stops):
        if rate <= b:
            t = (rate - a) / (b - a)
            return "#" + "".join(
                f"{round(x + (y - x) * t):02x}" for x, y in zip(ca, cb, strict=True)
            )
    return "#1a9850"


def heat_map(lab: dict[str, Any]) -> str:
    """The lab's checks as a heat map of pass rates: a row per task, least passed first; each
    cell links to its check's line in the page's table."""
    checks = {c["id"]: c for c in lab["checks"]}
    label_w, cell_w, cell_h = 300, 132, 38
    widest = max([len(t["checks"]) for t in lab["tasks"]] + [1])
    width = label_w + widest * cell_w + 10
    height = 30 + len(lab["tasks"]) * cell_h + 10
    title = f"{lab['title']}: pass rate of each check among {lab['graded']} graded learners"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{e(title)}">',
        f"<title>{e(title)}</title>",
        f'<text x="0" y="18" font-size="13" font-weight="bold">{e(title)}</text>',
    ]
    for row, task in enumerate(lab["tasks"]):
        y = 30 + row * cell_h
        name = task["task"] if len(task["task"]) <= 44 else task["task"][:43] + "…"
        parts.append(
            f'<text x="0" y="{y + cell_h / 2 + 4:.1f}" font-size="12"><title>{e(task["task"])}'
            f"</title>{e(name)}</text>"
        )
        for col, check_id in enumerate(task["checks"]):
            check = checks[check_id]
            x = label_w + col * cell_w
            short = ".".join(check_id.split(".")[2:]) or check_id.split(".")[-1]
            short = short if len(short) <= 20 else short[:19] + "…"
            tip = f"{check_id}: {check['passed']} of {check['graded']} passed"
            parts.append(
                f'<a href="#{anchor("check", check_id)}"><rect x="{x}" y="{y}" '
                f'width="{cell_w - 3}" height="{cell_h - 3}" fill="{colour(check["rate"])}" '
                f'rx="3"><title>{e(tip)}</title></rect>'
                f'<text x="{x + 5}" y="{y + 14}" font-size="11">{e(short)}</text>'
                f'<text x="{x + 5}" y="{y + 29}" font-size="11" font-weight="bold">'
                f"{pct(check['rate'])} ({check['passed']}/{check['graded']})</text></a>"
            )
    return "".join(parts) + "</svg>"


def progress_chart(data: dict[str, Any]) -> str:
    """The cohort's median score (percent of each lab's maximum) lab after lab."""
    labs = [lab for lab in data["labs"] if lab["max_score"]]
    width, height, left, bottom = 600, 220, 45, 40
    step = (width - left - 40) / max(len(labs) - 1, 1)
    title = "Median of graded learners, lab after lab (% of the lab's maximum)"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{e(title)}">',
        f"<title>{e(title)}</title>",
        f'<text x="0" y="16" font-size="13" font-weight="bold">{e(title)}</text>',
    ]
    for level in (0, 50, 100):
        y = height - bottom - level * (height - bottom - 35) / 100
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 20}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{level}%'
            "</text>"
        )
    points = []
    for index, lab in enumerate(labs):
        x = left + index * step
        share = (lab["median"] or 0) / lab["max_score"] if lab["median"] is not None else None
        if share is not None:
            y = height - bottom - 100 * share * (height - bottom - 35) / 100
            points.append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{BAR}"><title>{e(lab["key"])}: '
                f"median {num(lab['median'])} of {num(lab['max_score'])}</title></circle>"
            )
        parts.append(
            f'<text x="{x:.1f}" y="{height - bottom + 16}" font-size="11" '
            f'text-anchor="middle">{e(lab["key"])}</text>'
        )
    if len(points) > 1:
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{BAR}" stroke-width="2"/>'
        )
    return "".join(parts) + "</svg>"


def plots(data: dict[str, Any]) -> dict[str, str]:
    """File name -> SVG: each lab's score distribution and heat map, and the progress chart."""
    found = {}
    for lab in data["labs"]:
        found[f"{anchor(lab['key'])}-scores.svg"] = score_chart(lab)
        found[f"{anchor(lab['key'])}-checks.svg"] = heat_map(lab)
    if data["progress"]:
        found["progress.svg"] = progress_chart(data)
    return found
