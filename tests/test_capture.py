"""The recording relay and tcpdump see a query in clear without TLS, and not with TLS."""
from __future__ import annotations

import psycopg
import pytest

from labkit.capture import RecordingRelay, TcpdumpCapture, tcpdump_available
from labkit.errors import LabkitError
from labkit.server import LabServer

SECRET = "Passw0rd"


def _query_through(lab: LabServer, port: int, sslmode: str) -> None:
    with psycopg.connect(**lab.conninfo(port=port, sslmode=sslmode)) as conn:
        conn.execute("CREATE TEMP TABLE clientes(numcli int, password text)")
        conn.execute("INSERT INTO clientes SELECT 12345, %s", (SECRET,))
        assert conn.execute("SELECT password FROM clientes").fetchone()[0] == SECRET


def test_relay_sees_plaintext_without_tls_and_nothing_with_tls(clean_lab16: LabServer) -> None:
    with RecordingRelay(clean_lab16.host, clean_lab16.port) as relay:
        _query_through(clean_lab16, relay.port, "disable")
        assert relay.contains(SECRET) and relay.contains("SELECT password FROM clientes")
        frame = relay.frame()
        assert set(frame["direction"]) == {"client→server", "server→client"}
        relay.clear()
        _query_through(clean_lab16, relay.port, "require")
        assert relay.transcript(), "the TLS conversation was relayed"
        assert not relay.contains(SECRET)
        assert not relay.contains("clientes")


def test_relay_refuses_non_loopback_targets() -> None:
    with pytest.raises(LabkitError, match="only forwards to loopback"):
        RecordingRelay("192.0.2.1", 5432)


def test_tcpdump_the_guides_way(clean_lab16: LabServer) -> None:
    ok, why = tcpdump_available()
    if not ok:
        pytest.skip(f"tcpdump cannot run here: {why}")
    capture = TcpdumpCapture(clean_lab16.port)
    try:
        with capture:
            _query_through(clean_lab16, clean_lab16.port, "disable")
        assert capture.contains(SECRET)
        assert SECRET in capture.ascii_dump(max_lines=400)
        tls = TcpdumpCapture(clean_lab16.port)
        with tls:
            _query_through(clean_lab16, clean_lab16.port, "require")
        assert tls.raw() and not tls.contains(SECRET)
        tls.cleanup()
    finally:
        capture.cleanup()


def test_relayed_session_and_wire_verdict(clean_lab16: LabServer) -> None:
    from labkit import capture, roles

    password = roles.ensure_role(clean_lab16, "capture_user")
    runs = {mode: capture.relayed_session(clean_lab16, mode, user="capture_user", password=password)
            for mode in ("disable", "require")}
    assert all(run["rows"] == [(12345, "Passw0rd")] for run in runs.values())
    verdict = capture.wire_verdict(runs, {"secret": "Passw0rd", "password": password}).set_index("sslmode")
    assert verdict.loc["disable", "secret"] and not verdict.loc["require", "secret"]
    assert not verdict["password"].any()  # SCRAM never sends it, TLS or not
    assert list(verdict["TLS in use"]) == [False, True]
    assert len(runs["disable"]["frame"]) < len(runs["disable"]["chunks"])  # the query phase only
    clean_lab16.execute("DROP ROLE capture_user")
