"""The whole course with `pg_version=15` (Debian's build, OpenSSL 3): the lessons must hold there too.

nbval checks the committed outputs on PostgreSQL 16; this runs every lesson once more on 15, where
OpenSSL 3 and the older server behave differently in places (e.g. no log line naming the depth of a failed
client-certificate check, cipher strings OpenSSL 3 rejects). Each lesson's asserts adapt to the server
they measured, so a lesson that fails here teaches something false on 15.
"""
from __future__ import annotations

from pathlib import Path

from .helpers import course_failures_on


def test_every_lesson_passes_on_postgresql_15(tmp_path: Path) -> None:
    failed, ran, found = course_failures_on(15, tmp_path)
    assert not failed, failed
    assert ran == found == 26
