"""The whole course with `pg_version=15` (Debian's build, OpenSSL 3): the lessons must hold there too.

nbval checks the committed outputs on PostgreSQL 16; this runs every lesson once more on 15, where
OpenSSL 3 and the older server behave differently in places (e.g. no log line naming the depth of a failed
client-certificate check, cipher strings OpenSSL 3 rejects). Each lesson's asserts adapt to the server
they measured, so a lesson that fails here teaches something false on 15.
"""
from __future__ import annotations

from pathlib import Path

from labkit.lesson_files import discover_notebooks
from labkit.runner import run_series

from .helpers import searchable_tmp

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def test_every_lesson_passes_on_postgresql_15(tmp_path: Path) -> None:
    lessons = discover_notebooks(NOTEBOOKS, [])
    result = run_series(lessons, params={"pg_version": 15, "backend": "local",
                                         "workspace": str(searchable_tmp(tmp_path) / "ws")},
                        out_dir=tmp_path / "report", progress=False)
    failed = {lesson.name: (f"{lesson.error.ename}: {lesson.error.evalue[:300]}" if lesson.error else lesson.status)
              for lesson in result.lessons if lesson.status != "passed"}
    assert not failed, failed
    assert len(result.lessons) == len(lessons) == 20
