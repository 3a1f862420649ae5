"""Submission sources, late policy and feedback rendering, without grading (fast).

Each LMS download is built by :mod:`tests.lms_fixtures` from the fixture lab's source
notebook and read by :func:`grader.pipeline.discover.discover`.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader.checking.specs import fixture
from grader.course import load_course, load_roster
from grader.outputs import feedback
from grader.pipeline import layouts
from grader.pipeline.discover import Discovery, discover
from tests import lms_fixtures

NOTEBOOKS = {fixture.LAB.notebook: "fixture"}
UTC = dt.timezone.utc


def _discover(tmp_path: Path, layout: str, chosen: str | None = None) -> Discovery:
    submissions, _ = lms_fixtures.build(layout, tmp_path / layout)
    unpack = tmp_path / "unpacked"
    unpack.mkdir()
    return discover(
        submissions,
        NOTEBOOKS,
        unpack_to=unpack,
        max_bytes=1 << 24,
        layout=chosen,
        zone=lms_fixtures.ZONE,
    )


@pytest.mark.parametrize("layout", list(lms_fixtures.BUILDERS))
def test_each_layout_is_detected_with_its_ids(tmp_path: Path, layout: str) -> None:
    """Is each download's layout detected, and is every submitter one student with the LMS's id?"""
    found = _discover(tmp_path, layout)
    _, expected = lms_fixtures.build(layout, tmp_path / "again")
    assert found.layout == lms_fixtures.LAYOUT.get(layout, layout)
    assert f"layout: {found.layout} (detected)" in found.notes
    assert sorted(found.found) == sorted(expected)
    for student, (_, late, submitted) in expected.items():
        handin = found.handins[student, "fixture"]
        assert (handin.late, handin.submitted) == (late, submitted), student


def test_canvas_students_sharing_a_name_slug_stay_apart(tmp_path: Path) -> None:
    """Do two Canvas users with one name slug stay two students, and is the late flag kept?"""
    found = _discover(tmp_path, "canvas")
    assert {"11111", "22222"} <= set(found.found)
    assert found.names["11111"] == found.names["22222"] == "smithjohn"
    assert "late:fixture" in found.flags["22222"]
    assert not any(f.startswith("duplicate") for f in found.flags["11111"] + found.flags["22222"])


def test_canvas_keeps_the_latest_upload(tmp_path: Path) -> None:
    """Of two uploads of one Canvas user, is the one with the higher attachment id graded?"""
    found = _discover(tmp_path, "canvas")
    picked = found.found["33333"]["fixture"]
    assert isinstance(picked, Path) and picked.name.startswith("lovelaceada_33333_903_")
    assert "duplicate-submission:fixture" in found.flags["33333"]


def test_moodle_online_text_is_not_a_student(tmp_path: Path) -> None:
    """Is Moodle's online-text folder ignored with a log line instead of a phantom row?"""
    found = _discover(tmp_path, "moodle")
    assert sorted(found.found) == ["12345", "23456", "34567", "7"]
    assert found.names["12345"] == "Ada Lovelace" and found.names["7"] == "Team Rocket"
    assert any("onlinetext submission" in note for note in found.notes)
    assert found.flags["12345"] == []


def test_blackboard_latest_attempt_wins(tmp_path: Path) -> None:
    """Is a Blackboard username the id (not the assignment name), the latest attempt graded?"""
    found = _discover(tmp_path, "blackboard")
    assert "Lab 0" not in found.found
    picked = found.found["jsmith"]["fixture"]
    assert isinstance(picked, Path) and "2026-03-04" in picked.name


def test_nbgrader_course_root_is_not_a_student(tmp_path: Path) -> None:
    """Does an nbgrader course root read ``submitted/<id>/`` rather than a student 'submitted'?"""
    found = _discover(tmp_path, "nbgrader")
    assert "submitted" not in found.found and sorted(found.found) == ["ada", "bob"]


def test_exchange_latest_submission_wins(tmp_path: Path) -> None:
    """Of two exchange submissions of one learner, is the later timestamp graded?"""
    found = _discover(tmp_path, "exchange")
    picked = found.found["ada"]["fixture"]
    assert isinstance(picked, Path) and "10:00:00" in picked.parent.name


@pytest.mark.parametrize(
    ("name", "number"),
    [("fixture-double.ipynb", 0), ("fixture-double-1.ipynb", 1),
     ("fixture-double (2).ipynb", 2), ("fixture-double-Copy3.ipynb", 3)],
)  # fmt: skip
def test_copy_suffixes_name_the_lab(name: str, number: int) -> None:
    """Are the ``-1``, `` (1)`` and ``-Copy1`` suffixes read as copies of the lab's notebook?"""
    assert layouts.lab_of(name, NOTEBOOKS) == ("fixture", number)
    assert layouts.lab_of("my-lab.ipynb", NOTEBOOKS) is None


def test_a_chosen_layout_overrides_detection(tmp_path: Path) -> None:
    """Does ``--layout folders`` read a Canvas download by the plain flat rule instead?"""
    found = _discover(tmp_path, "canvas", chosen="folders")
    assert found.layout == "folders" and "smithjohn" in found.found


def _course(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "course.toml"
    path.write_text(text)
    return path


def test_per_day_penalty_with_cap_grace_and_extension(tmp_path: Path) -> None:
    """Does the per-day policy count started days, stop at its cap and honour an extension?"""
    course = load_course(_course(tmp_path, lms_fixtures.COURSE))
    due = lms_fixtures.DUE
    assert course.penalty("x", "fixture", 4, due, False) == (0.0, "")
    assert course.penalty("x", "fixture", 4, due + dt.timedelta(hours=2), False)[0] == 0.4
    assert course.penalty("x", "fixture", 4, due + dt.timedelta(days=9), False)[0] == 2.0
    assert course.penalty("jsmith", "fixture", 4, due + dt.timedelta(days=2), False)[0] == 0
    assert course.penalty("x", "fixture", 4, None, True)[0] == 0.4  # Canvas: late, no time


def test_cutoff_policy_zeroes_only_after_the_cutoff(tmp_path: Path) -> None:
    """Does the cutoff policy keep the score until the cutoff and give 0 after it?"""
    text = '[labs.fixture]\ndue = 2026-03-02T23:59:00Z\n[late]\npolicy = "cutoff"\n'
    text += "zero_after_days = 2\n"
    course = load_course(_course(tmp_path, text))
    due = dt.datetime(2026, 3, 2, 23, 59, tzinfo=UTC)
    assert course.penalty("x", "fixture", 4, due + dt.timedelta(days=1), False)[0] == 0
    assert course.penalty("x", "fixture", 4, due + dt.timedelta(days=3), False)[0] == 4


def test_a_bad_course_file_is_refused(tmp_path: Path) -> None:
    """Is an unknown policy refused with a message naming the choices?"""
    with pytest.raises(ValueError, match="per-day"):
        load_course(_course(tmp_path, '[late]\npolicy = "sometimes"\n'))


def test_roster_columns_are_read_by_name(tmp_path: Path) -> None:
    """Are roster columns found by name in any order, and a repeated id refused?"""
    path = tmp_path / "roster.csv"
    path.write_text('Section,ID,Name,Email,SIS ID\nA,7,"Doe, Jo",jo@x.org,S7\n')
    person = load_roster(path)["7"]
    assert (person.name, person.email, person.sis_id, person.section) == (
        "Doe, Jo",
        "jo@x.org",
        "S7",
        "A",
    )
    path.write_text("id,name\n7,a\n7,b\n")
    with pytest.raises(ValueError, match="twice"):
        load_roster(path)


def test_markdown_renders_but_learner_html_stays_text() -> None:
    """Is markdown rendered (headings, emphasis, math kept as written) while raw HTML and
    ``javascript:`` links from the learner never become live?"""
    page = feedback.markdown(
        "# Title\n\n*x* and $a_1 < b$\n\n<script>alert(1)</script>\n\n[l](javascript:alert(1))"
    )
    assert "<h1" in page and "<em>x</em>" in page and "$a_1 &lt; b$" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "javascript:" not in page


def test_the_head_lists_failed_checks_with_links() -> None:
    """Does a page's head give the score, the penalty and each failed check linked to its cell?"""
    text = feedback.head(
        score="3.6",
        max_score=4,
        status="graded",
        raw="4",
        penalty="0.4",
        late="1 day(s) late: -10%",
        decisions=["fixture.square.value=1: <b>fair</b>"],
        failed=[("fixture.double.edge", "double-tests", 0, 1)],
    )
    assert "Score: 3.6 / 4 points" in text and "late penalty -0.4" in text
    assert '<a href="#cell-double-tests">fixture.double.edge</a>: 0 / 1 points' in text
    assert "&lt;b&gt;fair&lt;/b&gt;" in text


def test_canvas_gradebook_export_serves_as_the_roster(tmp_path: Path) -> None:
    """Is Canvas's own gradebook export (with its Points Possible row) read as a roster?"""
    path = tmp_path / "export.csv"
    path.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,Lab 0 (4471)\n"
        "    Points Possible,,,,,4\n"
        '"Smith, John",11111,S1,jsmith,A,\n'
    )
    roster = load_roster(path)
    assert list(roster) == ["11111"]
    assert (roster["11111"].name, roster["11111"].sis_id) == ("Smith, John", "S1")


@pytest.mark.parametrize("layout", list(lms_fixtures.BUILDERS))
def test_every_handed_in_file_is_accounted_for(tmp_path: Path, layout: str) -> None:
    """Does every handed-in file that is not graded leave an ``ignored-file:<reason>:`` flag
    on its learner (and an entry in the discovery's list), and nothing else?"""
    found = _discover(tmp_path, layout)
    flagged = {
        (student, flag.split(":")[1])
        for student, flags in found.flags.items()
        for flag in flags
        if flag.startswith("ignored-file:")
    }
    assert flagged == lms_fixtures.NOT_GRADED[layout]
    assert {(i.student, i.reason) for i in found.ignored} == flagged


def test_blackboard_receipts_usernames_and_course_timezone(tmp_path: Path) -> None:
    """Are Blackboard receipts read (a name, no phantom learner or flag), a username with
    ``_`` kept whole, and the attempt's time read in the course's timezone?"""
    found = _discover(tmp_path, "blackboard")
    assert "s_lee" in found.found and "lee" not in found.found
    assert found.names["jsmith"] == "J Smith"
    when = found.handins["bkim", "fixture"].submitted
    assert when is not None and when.utcoffset() == dt.timedelta(hours=-5)


def test_blackboard_users_without_receipts_split_at_the_shared_prefix() -> None:
    """Without receipts, is the assignment name the prefix every attempt shares?"""
    heads = ["Lab 1.7.2_Ops_jsmith", "Lab 1.7.2_Ops_akhan"]
    assert layouts.blackboard_users(heads) == {h: h.rsplit("_", 1)[1] for h in heads}
    known = {"Lab 0_s_12": "s_12"}
    assert layouts.blackboard_users(["Lab 0_s_12", "Lab 0_s_34"], known)["Lab 0_s_34"] == "s_34"


def test_two_layouts_in_one_folder_stop_with_the_candidates(tmp_path: Path) -> None:
    """Does a folder holding Canvas and Blackboard names stop, naming both and --layout?"""
    submissions, _ = lms_fixtures.build("canvas", tmp_path / "mixed")
    lms_fixtures.build("blackboard", tmp_path / "mixed")
    with pytest.raises(layouts.AmbiguousLayout) as raised:
        _discover_path(tmp_path, submissions)
    message = str(raised.value)
    assert "canvas" in message and "blackboard" in message and "--layout" in message


@pytest.mark.parametrize("layout", ["blackboard", "moodle", "canvas"])
def test_a_class_in_one_folder_is_never_one_student(tmp_path: Path, layout: str) -> None:
    """Does a folder whose files or folders carry several LMS users stop instead of being
    graded as one learner, while ``--layout folders`` still reads it as asked?"""
    root = tmp_path / "in"
    lms_fixtures.build(layout, root / "Lab 0")
    (root / "other").mkdir()
    with pytest.raises(layouts.AmbiguousLayout, match="several learners"):
        _discover_path(tmp_path, root)
    assert sorted(_discover_path(tmp_path, root, "folders").found) == ["Lab 0", "other"]


def _discover_path(tmp_path: Path, root: Path, chosen: str | None = None, **kw: bool) -> Discovery:
    unpack = tmp_path / f"unpacked-{len(list(tmp_path.iterdir()))}"
    unpack.mkdir()
    return discover(root, NOTEBOOKS, unpack_to=unpack, max_bytes=1 << 24, layout=chosen, **kw)


def test_a_download_zipped_again_is_read_inside(tmp_path: Path) -> None:
    """Is a zip holding only the Canvas download's zip read as that download?"""
    download, expected = lms_fixtures.build("canvas", tmp_path / "canvas")
    inner = tmp_path / "canvas.zip"
    with zipfile.ZipFile(inner, "w") as archive:
        for path in sorted(download.iterdir()):
            archive.write(path, path.name)
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w") as archive:
        archive.write(inner, "submissions.zip")
    found = _discover_path(tmp_path, outer)
    assert found.layout == "canvas" and sorted(found.found) == sorted(expected)
    assert isinstance(found.found["55555"]["fixture"], Path)  # the learner's zip, third level


def test_zips_nested_past_the_limit_are_flagged_not_followed(tmp_path: Path) -> None:
    """Is a zip nested deeper than the limit flagged unreadable rather than unpacked?"""
    data = nbformat.writes(lms_fixtures.SOLUTION).encode()
    for _ in range(4):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("inner.zip" if _ else fixture.LAB.notebook, data)
        data = buffer.getvalue()
    (tmp_path / "in" / "ada").mkdir(parents=True)
    (tmp_path / "in" / "ada" / "deep.zip").write_bytes(data)
    found = _discover_path(tmp_path, tmp_path / "in")
    assert "fixture" not in found.found["ada"]
    assert any(f.startswith("ignored-file:unreadable:") for f in found.flags["ada"])


def test_a_lone_notebook_is_graded_for_the_lab_asked_for(tmp_path: Path) -> None:
    """With one lab asked for, is a learner's only notebook under another name (or saved as
    .txt) graded for it and flagged renamed, while two candidates stay ignored?"""
    root = tmp_path / "in"
    for student, names in {
        "ada": ["Lab2_final.ipynb"],
        "bob": ["notebook.txt"],
        "cy": ["a.ipynb", "b.ipynb"],
    }.items():
        for name in names:
            (root / student).mkdir(parents=True, exist_ok=True)
            nbformat.write(lms_fixtures.SOLUTION, root / student / name)
    plain = _discover_path(tmp_path, root)
    assert all("fixture" not in labs for labs in plain.found.values())
    lone = _discover_path(tmp_path, root, lone=True)
    assert lone.flags["ada"] == ["renamed:Lab2_final.ipynb"]
    assert lone.flags["bob"] == ["renamed:notebook.txt"]
    assert "fixture" in lone.found["ada"] and "fixture" in lone.found["bob"]
    assert "fixture" not in lone.found["cy"] and len(lone.flags["cy"]) == 2


def test_a_zero_byte_notebook_is_ungradable_and_says_why(tmp_path: Path) -> None:
    """Is an empty notebook file read as ``invalid-json`` with a message saying it is empty
    (so it posts 0 with a status, never a blank)?"""
    from grader import notebook

    path = tmp_path / fixture.LAB.notebook
    path.write_bytes(b"")
    with pytest.raises(notebook.NotebookError) as raised:
        notebook.read(path, max_bytes=1 << 20)
    assert raised.value.reason == "invalid-json" and "empty" in str(raised.value)


def test_a_lone_renamed_upload_keeps_its_late_flag(tmp_path: Path) -> None:
    """Graded for the one lab asked for, does a renamed Canvas upload keep Canvas's late
    flag (so the late policy still applies)?"""
    root = tmp_path / "in"
    root.mkdir()
    nbformat.write(lms_fixtures.SOLUTION, root / "smithjane_late_22222_902_Lab2_final.ipynb")
    nbformat.write(lms_fixtures.SOLUTION, root / f"smithjohn_11111_901_{fixture.LAB.notebook}")
    found = _discover_path(tmp_path, root, lone=True)
    assert found.handins["22222", "fixture"].late
    assert "late:fixture" in found.flags["22222"]
    assert "renamed:smithjane_late_22222_902_Lab2_final.ipynb" in found.flags["22222"]


def test_a_negative_flagged_days_is_refused(tmp_path: Path) -> None:
    """Is ``late.flagged_days`` below 0 refused with a message naming the setting?"""
    with pytest.raises(ValueError, match="flagged_days"):
        load_course(_course(tmp_path, '[late]\npolicy = "per-day"\nflagged_days = -1\n'))
