"""The lesson building blocks against the Docker backend: success, revoked certificate, hostname mismatch.

Under Docker every client reaches the server through docker-proxy, so it appears from the bridge gateway,
not 127.0.0.1 — the layers use 0.0.0.0/0 and the outcomes must be the same as with local binaries.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from docker.models.containers import Container

from labkit import handshake, layers, monitoring, transaction
from labkit.attempt_log import collect_handshake_log
from labkit.client import attempt
from labkit.lesson import Lesson, begin

from .helpers import docker_image_or_skip, searchable_tmp

IMAGE = docker_image_or_skip()


@pytest.fixture(scope="module")
def lesson(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lesson]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LABKIT_IMAGE", IMAGE)
        started = begin(backend="docker",
                        workspace=searchable_tmp(tmp_path_factory.mktemp("docker-lesson")) / "ws")
        assert started.lab.state.backend == "docker"
        pki = started.pki
        result = transaction.apply(started.lab, layers.layer_ssl_on(pki),
                                   layers.layer_hostssl("cert", users=("conssl",), clientcert="verify-full"),
                                   layers.layer_crl(pki, "combined"), layers.layer_ca(pki, "combined"))
        assert result.ok, result.summary()
        yield started
        started.finish()
        assert not started.lab.backend.exists()


def test_certificate_login_succeeds(lesson: Lesson) -> None:
    paths = lesson.pki.paths
    ok = attempt(lesson.lab, user="conssl", sslmode="verify-full", sslrootcert=paths.root_crt,
                 sslcert=paths.client_chain_crt, sslkey=paths.client_key, password=None)
    assert ok.connected, ok.error_text
    assert ok.tls_version == "TLSv1.3" and ok.ssl_client_cert_present is True
    assert ok.ssl_client_dn and "CN=conssl" in ok.ssl_client_dn
    assert ok.pg_stat_ssl.get("ssl") is True


def test_revoked_certificate_is_refused(lesson: Lesson) -> None:
    paths = lesson.pki.paths
    refused = attempt(lesson.lab, user="conssl", sslmode="verify-full", sslrootcert=paths.root_crt,
                      sslcert=paths.revoked_client_crt, sslkey=paths.revoked_client_key, password=None)
    assert not refused.connected
    assert refused.error_key == "cert_revoked"
    assert "certificate revoked" in refused.server_log


def test_hostname_mismatch_is_refused_and_verify_ca_control_connects(lesson: Lesson) -> None:
    paths = lesson.pki.paths
    common = dict(user="conssl", sslrootcert=paths.root_crt, sslcert=paths.client_chain_crt,
                  sslkey=paths.client_key, password=None, host="db.wrong-host.example", hostaddr="127.0.0.1")
    mismatch = attempt(lesson.lab, sslmode="verify-full", **common)
    assert not mismatch.connected and mismatch.error_key == "hostname_mismatch"
    control = attempt(lesson.lab, sslmode="verify-ca", **common)
    assert control.connected, control.error_text


def test_workspace_files_stay_private(lesson: Lesson) -> None:
    for key in Path(lesson.pki.root_dir, "private").glob("*.key"):
        assert key.stat().st_mode & 0o077 == 0, key


def test_ident_map_and_another_database_through_docker(lesson: Lesson) -> None:
    """pg_ident.conf is written into the container's data directory like pg_hba.conf; execute(dbname=)
    reaches another database over the TCP admin channel."""
    from labkit import hba

    lab, paths = lesson.lab, lesson.pki.paths
    before = lab.hba_rules
    hba.set_ident_maps(lab, {"certmap": [("CN=conssl,O=pgtls-lab", "reporter")]})
    lab.set_hba_rules([*(before or []), "hostssl all reporter 0.0.0.0/0 cert clientname=DN map=certmap"])
    try:
        assert lab.reload().ok
        mapped = attempt(lab, user="reporter", sslmode="verify-full", sslrootcert=paths.root_crt,
                         sslcert=paths.client_chain_crt, sslkey=paths.client_key, password=None)
        assert mapped.connected and mapped.current_user == "reporter", mapped.error_text + mapped.server_log
        assert "sslrootcert=pki/CA/root.crt" in mapped.short_psql, mapped.short_psql
    finally:
        hba.set_ident_maps(lab, None)
        lab.set_hba_rules(before)
        assert lab.reload().ok
    if not lab.execute("SELECT 1 FROM pg_database WHERE datname = 'fid_docker'"):
        lab.execute("CREATE DATABASE fid_docker")
    assert lab.execute("SELECT current_database() AS db", dbname="fid_docker") == [{"db": "fid_docker"}]


def test_a_refused_probe_reports_its_backends_lines_not_the_admin_channels(lesson: Lesson,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The Docker admin channel is TCP and the container log delivers its lines late: a probe's server log
    once showed "connection authenticated ... labkit_admin" as the answer to TLS 1.0 (seen in CI). Here the
    probe's window opens before a reload's admin connection, as when that connection's lines come late."""
    lab = lesson.lab
    lab.reset_config()
    mark = lab.log_mark()
    assert lab.reload().ok  # its check is a new admin connection, logged after the mark
    admin_user = str(lab.backend.admin_conninfo()["user"])
    for _ in range(100):
        if f'identity="{admin_user}"' in lab.log_since(mark):
            break
        time.sleep(0.02)
    assert f'identity="{admin_user}"' in lab.log_since(mark)
    monkeypatch.setattr(lab, "log_mark", lambda: mark)
    probed = handshake.probe_lab(lab, "TLSv1.1")
    assert probed.result == "refused"
    assert "could not accept SSL connection: unsupported protocol" in probed.server_log, probed.server_log
    assert admin_user not in probed.server_log, probed.server_log
    assert "could not accept SSL connection" in collect_handshake_log(lab, mark)


def test_one_apply_writes_its_tls_files_settings_and_rules_in_one_archive(lesson: Lesson,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Each archive put costs about 60 ms of CPU (dockerd re-executes itself to unpack it): an apply with a
    certificate, settings and pg_hba rules is one, and the server then really serves and enforces them."""
    lab, pki = lesson.lab, lesson.pki
    puts: list[str] = []
    real_put = Container.put_archive
    monkeypatch.setattr(Container, "put_archive", lambda self, *a, **k: puts.append(a[0]) or real_put(self, *a, **k))
    applied = transaction.apply(lab, layers.layer_ssl_on(pki, "server2"), layers.layer_hostssl("scram-sha-256"))
    assert applied.ok, applied.reason
    assert len(puts) == 1, puts
    assert monitoring.pki_name(pki, handshake.served_certificate(lab.host, lab.port).serial) == "server2.crt"
    assert lab.show("ssl_cert_file").endswith("/tls/server2.crt")
    assert "hostssl" in lab.hba_text()
    monkeypatch.undo()
    assert transaction.revert(lab, *applied.layers).ok
