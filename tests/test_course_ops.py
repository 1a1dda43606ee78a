"""labkit.course_ops against a real PostgreSQL 16 lab: what the Fase 3 lessons rely on."""
from __future__ import annotations

import pandas as pd
import pytest
from cryptography import x509

from labkit import attempts, course_ops, layers
from labkit.errors import LabkitError
from labkit.pki import LabPKI


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI.ensure(tmp_path_factory.mktemp("ops-pki"))


def _serial(path) -> str:
    return f"{x509.load_pem_x509_certificate(path.read_bytes()).serial_number:x}"


def test_served_certificate_follows_reload_not_files(clean_lab16, pki: LabPKI) -> None:
    lab = clean_lab16
    before = course_ops.served_certificate(lab.host, lab.port)
    assert course_ops.pki_name(pki, before.serial) == "not from the lab PKI"  # the bootstrap certificate
    assert layers.apply(lab, layers.layer_ssl_on(pki)).ok
    served = course_ops.served_certificate(lab.host, lab.port)
    assert served.serial == _serial(pki.paths.server_crt)
    assert course_ops.pki_name(pki, served.serial) == "server.crt"
    assert "CN=localhost" in served.subject and "Intermediate" in served.issuer
    assert served.tls_version == "TLSv1.3" and len(served.sha256) == 64
    lab.deliver("server.crt", pki.paths.server2_crt, 0o644)
    lab.deliver("server.key", pki.paths.server2_key, 0o600)
    assert course_ops.pki_name(pki, course_ops.served_certificate(lab.host, lab.port).serial) == "server.crt"
    assert attempts.reload_settled(lab).ok
    assert course_ops.pki_name(pki, course_ops.served_certificate(lab.host, lab.port).serial) == "server2.crt"


def test_served_certificate_errors(clean_lab16) -> None:
    lab = clean_lab16
    lab.set_settings({"ssl": False})
    lab.reload()
    with pytest.raises(LabkitError, match="answered b'N'"):
        course_ops.served_certificate(lab.host, lab.port)
    with pytest.raises(LabkitError, match="could not connect"):
        course_ops.served_certificate("127.0.0.1", 1, timeout=1)


def test_ssl_settings_relative_paths(clean_lab16, pki: LabPKI) -> None:
    lab = clean_lab16
    assert layers.apply(lab, layers.layer_ssl_on(pki)).ok
    frame = course_ops.ssl_settings(lab)
    settings = dict(zip(frame["name"], frame["setting"]))
    assert settings["ssl_cert_file"] == "$PGDATA/tls/server.crt"
    assert settings["ssl"] == "on" and list(frame.columns) == ["name", "setting", "context"]


def test_stat_ssl_and_sslinfo(clean_lab16, pki: LabPKI) -> None:
    lab = clean_lab16
    with attempts.session(lab, sslmode="require", extra={"application_name": "ops-tls"}) as tls_conn, \
            attempts.session(lab, sslmode="disable", extra={"application_name": "ops-plain"}) as plain_conn:
        live = course_ops.stat_ssl(lab)
        tls_info = course_ops.sslinfo_row(tls_conn)
        plain_info = course_ops.sslinfo_row(plain_conn)
    rows = live.set_index("application_name")
    assert bool(rows.loc["ops-tls", "ssl"]) and not bool(rows.loc["ops-plain", "ssl"])
    assert "client backend" in set(live["backend_type"])
    assert len(live) == 2  # the admin session running the query is left out
    assert list(tls_info) == list(course_ops.SSLINFO_FUNCTIONS)
    assert tls_info["ssl_is_used"] is True and tls_info["ssl_version"].startswith("TLSv1.")
    assert tls_info["ssl_client_cert_present"] is False and tls_info["ssl_client_dn"] is None
    assert plain_info["ssl_is_used"] is False and plain_info["ssl_cipher"] is None


def test_log_lines_strip_prefix_and_paths() -> None:
    text = ("2026-01-01 10:00:00.000 UTC [123] LOG:  received SIGHUP, reloading configuration files\n"
            '2026-01-01 10:00:00.001 UTC [123] LOG:  could not load private key file '
            '"/var/lib/postgresql/data/tls/server.key": key values mismatch\n'
            "2026-01-01 10:00:00.001 UTC [123] LOG:  SSL configuration was not reloaded\n"
            "2026-01-01 10:00:00.002 UTC [456] postgres@postgres LOG:  connection authorized: user=postgres\n")
    assert course_ops.log_lines(text) == [
        'LOG:  could not load private key file "tls/server.key": key values mismatch',
        "LOG:  SSL configuration was not reloaded"]
    assert len(course_ops.log_lines(text, exclude="")) == 4


def test_passphrase_script() -> None:
    script = course_ops.passphrase_script("pp.txt").decode()
    assert script.startswith("#!/bin/sh\n") and '"$(dirname "$0")/pp.txt"' in script
    with pytest.raises(LabkitError, match="unsafe"):
        course_ops.passphrase_script("../x; rm -rf /")


def test_passphrase_script_runs(tmp_path) -> None:
    import subprocess

    (tmp_path / "passphrase.txt").write_text("s3cret\n")
    script = tmp_path / "get.sh"
    script.write_bytes(course_ops.passphrase_script())
    script.chmod(0o700)
    assert subprocess.run([str(script)], capture_output=True, text=True, check=True).stdout == "s3cret\n"
