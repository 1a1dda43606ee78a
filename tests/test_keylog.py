"""libpq 18's key log decrypts a recorded TLS 1.3 session, and only the session it was written for."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import labkit as lk
from labkit import keylog
from labkit.capture import RecordingRelay
from labkit.errors import InvalidValue, LabkitError

from .helpers import lesson_with


@pytest.fixture(scope="module")
def lesson(tmp_path_factory: pytest.TempPathFactory) -> Iterator[lk.Lesson]:
    with lesson_with(tmp_path_factory.mktemp("keylog"), lambda pki: [lk.layers.layer_ssl_on(pki)]) as started:
        yield started


def _run(lesson: lk.Lesson, folder: Path, name: str) -> tuple[dict, Path]:
    path = folder / name
    run = keylog.keylog_session(lesson.lab, user="sinssl", password=lesson.password("sinssl"), keylog=path)
    return run, path


def test_the_key_log_opens_the_capture(lesson: lk.Lesson, tmp_path: Path) -> None:
    run, path = _run(lesson, tmp_path, "keys.log")
    assert run["rows"] == [(12345, "Passw0rd")] and run["protocol"] == "TLSv1.3"
    wire = b"".join(c.data for c in run["chunks"])
    assert b"Passw0rd" not in wire and b"clientes" not in wire  # control: the capture alone is noise
    assert path.stat().st_mode & 0o777 == 0o600  # libpq writes it private
    records = keylog.decrypt_session(run["chunks"], keylog.read_keylog(path))
    server, client = keylog.plaintext(records, keylog.S2C), keylog.plaintext(records, keylog.C2S)
    assert b"Passw0rd" in server and b"select * from clientes" in client and b"user\0sinssl" in client
    assert lesson.password("sinssl").encode() not in client + server  # SCRAM: not even inside TLS
    used = {r.keys for r in records if r.keys}
    assert used == {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                    "SERVER_TRAFFIC_SECRET_0"}
    frame = keylog.keylog_labels(path)
    assert set(frame["file mode"]) == {"0o600"} and "CLIENT_TRAFFIC_SECRET_0" in set(frame["label"])
    secret_hex = [line.split()[2] for line in path.read_text().splitlines()]
    assert not any(s in frame.to_string() for s in secret_hex)  # labels only, never a secret


def test_another_sessions_key_log_opens_nothing(lesson: lk.Lesson, tmp_path: Path) -> None:
    first, _ = _run(lesson, tmp_path, "first.log")
    _, second_log = _run(lesson, tmp_path, "second.log")
    with pytest.raises(LabkitError, match="no secret for this session"):
        keylog.decrypt_session(first["chunks"], keylog.read_keylog(second_log))


def test_a_tls12_session_is_refused_clearly(lesson: lk.Lesson, tmp_path: Path) -> None:
    path = tmp_path / "tls12.log"
    with RecordingRelay(lesson.lab.host, lesson.lab.port) as relay:
        with lk.session(lesson.lab, sslmode="require", user="sinssl", password=lesson.password("sinssl"),
                        ssl_max_protocol_version="TLSv1.2", extra={"port": relay.port, "sslkeylogfile": path}) as conn:
            conn.execute("select 1")
        chunks = list(relay.chunks)
    with pytest.raises(LabkitError, match="not a TLS 1.3 suite"):
        keylog.decrypt_session(chunks, keylog.read_keylog(path))


def test_bad_inputs_are_named(lesson: lk.Lesson, tmp_path: Path) -> None:
    existing = tmp_path / "old.log"
    existing.write_text("")
    with pytest.raises(InvalidValue, match="old.log"):
        keylog.keylog_session(lesson.lab, user="sinssl", password="x", keylog=existing)
    broken = tmp_path / "broken.log"
    broken.write_text("CLIENT_RANDOM only-two\n")
    with pytest.raises(LabkitError, match="line 1"):
        keylog.read_keylog(broken)
    folder = keylog.private_folder()
    try:
        assert folder.stat().st_mode & 0o777 == 0o700
    finally:
        folder.rmdir()


def test_tshark_reads_the_same_capture_with_the_key_log(lesson: lk.Lesson, tmp_path: Path) -> None:
    can, why = keylog.tshark_available()
    if not can:
        pytest.skip(f"the Wireshark cross-check needs tshark and tcpdump: {why}")
    shark = keylog.tshark_cross_check(lesson.lab, user="sinssl", password=lesson.password("sinssl"),
                                      keylog=tmp_path / "t.log")
    assert not shark["'Passw0rd' in the pcap"]
    assert list(shark["without"]["messages (tshark)"]) == ["SSL request"]  # control: no key log, no PostgreSQL
    assert "12345, Passw0rd" in set(shark["with"]["row values"])
    assert "Startup message" in set(shark["with"]["messages (tshark)"])
