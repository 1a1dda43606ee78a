"""Every catalogue entry, reproduced on real servers and classified to its key.

Each test makes the server (PostgreSQL 16 built with OpenSSL 1.1.1, and Debian's 15 with OpenSSL 3, through
``any_lab``) produce one failure -- by a connection attempt or by a reload -- then checks the key
:func:`labkit.catalogue.classify` gives, the server-log line PostgreSQL writes for it, and a control that
succeeds once the one thing at fault is put right. Where the two servers really differ, the test asserts
each one's measured behaviour.

Two entries describe clients meeting a TLS 1.3 server that PostgreSQL never is (one that demands a client
certificate, one that drops the connection after the handshake); they are reproduced against a small TLS
peer on loopback, since no PostgreSQL configuration makes libpq 18 print those messages.

``test_every_entry_is_reproduced`` fails if an entry is added to the catalogue without a test here.
"""
from __future__ import annotations

import contextlib
import re
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from labkit import catalogue
from labkit.ca import COURSE_WRONG_PASSPHRASE
from labkit.client import attempt
from labkit.errors import ServerStartError
from labkit.pki import LabPKI
from labkit.server import LabServer
from labkit.handshake import probe, probe_lab
from tests.catalogue_lab import (SERVER_SCENARIOS, Lab, connected, empty_passphrase_passes_padding,  # noqa: F401
                                 encrypted_copy, ensure_roles, pki, refused, reload_classified)

COVERED: set[str] = set()


def covers(*keys: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Record which catalogue keys a test reproduces (checked by test_every_entry_is_reproduced)."""
    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        COVERED.update(keys)
        return fn
    return mark


# ---------------------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def lab(any_lab: LabServer, pki: LabPKI) -> Lab:
    return Lab(any_lab, pki, ensure_roles(any_lab))


# ---------------------------------------------------------------------------------------------------------
# The catalogue itself
# ---------------------------------------------------------------------------------------------------------


def test_catalogue_table_is_well_formed() -> None:
    keys = [e.key for e in catalogue.CATALOGUE]
    assert len(keys) == len(set(keys))
    for entry in catalogue.CATALOGUE:
        assert entry.side in catalogue.SIDES
        assert entry.patterns and all(isinstance(p, re.Pattern) for p in entry.patterns)
        assert len(entry.cause) > 20 and len(entry.fix) > 20, entry.key
    frame = catalogue.as_dataframe()
    assert list(frame["key"]) == keys
    assert list(frame.columns) == ["key", "error_class", "side", "patterns", "cause", "fix", "guide_ref"]
    assert catalogue.classify("everything is fine", "LOG:  connection authorized") is None
    with pytest.raises(KeyError, match="known keys"):
        catalogue.by_key("no-such-key")


_GUIDE_REVOKED = ('psql: error: connection to server at "127.0.0.1", port 5416 failed: SSL error: sslv3 alert '
                  "certificate revoked")
_GUIDE_HOST = ('psql: error: connection to server at "192.168.0.100", port 5416 failed: server certificate for '
               '"127.0.0.1" does not match host name "192.168.0.100"')
_GUIDE_CERT_AUTH = ('psql: error: connection to server at "127.0.0.1", port 5416 failed: FATAL:  certificate '
                    'authentication failed for user "otros"')
_FALLBACK = ('FATAL:  password authentication failed for user "reporter"\nconnection to server at "127.0.0.1", '
             'port 1 failed: FATAL:  no pg_hba.conf entry for host "127.0.0.1", user "reporter", database '
             '"postgres", no encryption')


@pytest.mark.parametrize(("client", "log", "key"), [
    # The guide's own messages (psql linked with OpenSSL 1.1): wording we cannot produce with libpq 18.
    (_GUIDE_REVOKED, "", "cert_revoked"),
    (_GUIDE_HOST, "", "hostname_mismatch"),
    (_GUIDE_CERT_AUTH, "", "cert_auth_failed"),
    ("SSL error: tlsv1 alert unknown ca", "", "unknown_ca"),
    ("SSL error: tlsv1 alert unknown ca", "LOG:  certificate verify failed at depth 1", "crl_missing"),
    ("SSL error: certificate verify failed", "", "server_cert_untrusted"),
    ("hostname does not match certificate", "", "hostname_mismatch"),
    ("SSL error: sslv3 alert certificate expired", "", "cert_expired"),
    ("SSL SYSCALL error: EOF detected", "", "connection_closed"),
    # the same words on the other end mean the other party: the client rejected the server's CA
    ("SSL error: certificate verify failed", "could not accept SSL connection: tlsv1 alert unknown ca",
     "server_cert_untrusted"),
    # a fallback attempt's pg_hba complaint must not hide the real failure
    (_FALLBACK, "", "password_failed"),
])
def test_known_wordings_classify(client: str, log: str, key: str) -> None:
    entry = catalogue.classify(client, log)
    assert entry is not None and entry.key == key


# ---------------------------------------------------------------------------------------------------------
# The client certificate, judged by the server
# ---------------------------------------------------------------------------------------------------------


@covers("crl_missing")
def test_crl_missing_at_depth_1(lab: Lab) -> None:
    """Guide, Mensajes de Error #2: only the intermediate's CRL is loaded, so the chain check fails at depth 1.
    PostgreSQL 16 logs the reason; 15 logs only 'certificate verify failed', so there it reads as unknown CA."""
    lab.cert_auth(ssl_crl_file=lab.deliver("intermediate.crl", lab.p.intermediate_crl))
    result = lab.client(lab.p.client_crt, lab.p.client_key)
    assert "tlsv1 alert unknown ca" in result.error_text
    if lab.major >= 16:
        refused(result, "crl_missing", r"verification failed at depth 1: unable to get certificate CRL")
    else:
        refused(result, "unknown_ca", r"could not accept SSL connection: certificate verify failed")
        assert "depth" not in result.server_log
    lab.cert_auth(ssl_crl_file=lab.deliver("combined.crl", lab.p.combined_crl))
    connected(lab.client(lab.p.client_crt, lab.p.client_key))


@covers("cert_revoked")
def test_revoked_client_certificate(lab: Lab) -> None:
    result = SERVER_SCENARIOS["cert_revoked"](lab).attempt
    refused(result, "cert_revoked", r"could not accept SSL connection: certificate verify failed")
    assert "ssl/tls alert certificate revoked" in result.error_text  # OpenSSL 3 client wording
    if lab.major >= 16:
        assert "depth 0: certificate revoked" in result.server_log
    connected(lab.client(lab.p.client_crt, lab.p.client_key))


@covers("cert_expired")
def test_expired_client_certificate(lab: Lab) -> None:
    result = SERVER_SCENARIOS["cert_expired"](lab).attempt
    refused(result, "cert_expired", r"could not accept SSL connection: certificate verify failed")
    assert "ssl/tls alert certificate expired" in result.error_text
    if lab.major >= 16:
        assert "certificate has expired" in result.server_log
    connected(lab.client(lab.p.client_crt, lab.p.client_key))


@covers("unknown_ca")
def test_unknown_ca_when_server_trusts_only_the_root(lab: Lab) -> None:
    """Guide, Mensajes de Error #1: ssl_ca_file has the root only and the client sends its leaf only."""
    result = SERVER_SCENARIOS["unknown_ca"](lab).attempt
    refused(result, "unknown_ca", r"could not accept SSL connection: certificate verify failed")
    if lab.major >= 16:
        assert "unable to get local issuer certificate" in result.server_log
    # a certificate from a foreign CA is refused the same way
    refused(lab.client(lab.p.rogue_client_crt, lab.p.rogue_client_key), "unknown_ca")
    # control: the client sends its chain (leaf + intermediate), the root-only server can now verify it
    connected(lab.client(lab.p.client_chain_crt, lab.p.client_key))


# ---------------------------------------------------------------------------------------------------------
# TLS 1.3 peers that PostgreSQL never is (see module docstring)
# ---------------------------------------------------------------------------------------------------------


@dataclass
class StandIn:
    port: int
    thread: threading.Thread


@contextlib.contextmanager
def stand_in(pki: LabPKI, behaviour: str) -> Iterator[StandIn]:
    """A TLS 1.3-only peer on loopback that answers the SSLRequest with 'S', then either demands a client
    certificate (``require_cert``) or drops the connection after the handshake (``drop``)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(2)
    listener.settimeout(5)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.paths.server_chain_crt, pki.paths.server_key)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if behaviour == "require_cert":
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(pki.paths.combined_crt)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(8)
                conn.sendall(b"S")
                tls = ctx.wrap_socket(conn, server_side=True)
                tls.recv(1024)  # the startup packet
                if behaviour == "drop":  # RST, no close_notify: the client learns nothing
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield StandIn(listener.getsockname()[1], thread)
    finally:
        listener.close()
        thread.join(timeout=5)


@covers("cert_required_tls13")
def test_tls13_certificate_required_alert_arrives_on_first_read(lab16: LabServer, pki: LabPKI) -> None:
    with stand_in(pki, "require_cert") as peer:
        result = attempt(lab16, sslmode="require", password=None, extra={"port": peer.port})
        refused(result, "cert_required_tls13")
        assert "tlsv13 alert certificate required" in result.error_text
    with stand_in(pki, "require_cert") as peer:  # control: with a certificate the handshake goes through
        result = attempt(lab16, sslmode="require", password=None, sslcert=pki.paths.client_crt,
                         sslkey=pki.paths.client_key, extra={"port": peer.port})
        assert result.error_key != "cert_required_tls13", result.error_text


@covers("connection_closed")
def test_connection_dropped_after_handshake(lab16: LabServer, pki: LabPKI) -> None:
    with stand_in(pki, "drop") as peer:
        result = attempt(lab16, sslmode="require", password=None, extra={"port": peer.port})
        refused(result, "connection_closed")
        # which words depend on whether the RST or the EOF is seen first; both are the same lesson
        assert re.search(r"server closed the connection unexpectedly|unexpected eof while reading",
                         result.error_text), result.error_text


@covers("server_unreachable")
def test_nothing_listening(lab16: LabServer) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    result = attempt(lab16, sslmode="require", extra={"port": free})
    refused(result, "server_unreachable")
    assert result.server_log == ""
    connected(attempt(lab16, sslmode="require"))


# ---------------------------------------------------------------------------------------------------------
# The server certificate, judged by the client
# ---------------------------------------------------------------------------------------------------------


@covers("root_cert_missing")
def test_root_certificate_missing(lab: Lab) -> None:
    lab.configure()
    result = lab.attempt(sslmode="verify-ca")
    refused(result, "root_cert_missing", r"could not accept SSL connection: EOF detected")
    assert "/client/no-home/.postgresql/root.crt" in result.error_text  # the isolated default, not ~/.postgresql
    connected(lab.attempt(sslmode="verify-ca", sslrootcert=lab.p.root_crt))


@covers("hostname_mismatch")
def test_hostname_mismatch(lab: Lab) -> None:
    lab.configure(ssl_cert_file=lab.deliver("wrong-host.crt", lab.p.wrong_host_crt),
                  ssl_key_file=lab.deliver("wrong-host.key", lab.p.wrong_host_key, 0o600), base=False,
                  ssl_ca_file=None)
    result = lab.attempt(sslmode="verify-full", sslrootcert=lab.p.combined_crt)
    refused(result, "hostname_mismatch")
    assert 'server certificate for "db.wrong-host.example"' in result.error_text
    assert "FATAL" not in result.server_log and "could not accept" not in result.server_log  # server is silent
    connected(lab.attempt(sslmode="verify-ca", sslrootcert=lab.p.combined_crt))  # CA fine; name not checked


@covers("server_cert_untrusted")
def test_server_certificate_untrusted(lab: Lab) -> None:
    lab.configure()
    result = lab.attempt(sslmode="verify-ca", sslrootcert=lab.p.rogue_ca_crt)
    refused(result, "server_cert_untrusted", r"could not accept SSL connection: tlsv1 alert unknown ca")
    connected(lab.attempt(sslmode="verify-ca", sslrootcert=lab.p.root_crt))


# ---------------------------------------------------------------------------------------------------------
# Protocol versions
# ---------------------------------------------------------------------------------------------------------


@covers("protocol_mismatch")
def test_protocol_version_mismatch(lab: Lab) -> None:
    result = SERVER_SCENARIOS["protocol_mismatch"](lab).attempt
    refused(result, "protocol_mismatch", r"could not accept SSL connection: unsupported protocol")
    assert "tlsv1 alert protocol version" in result.error_text
    lab.configure(ssl_max_protocol_version="TLSv1.2")
    refused(lab.attempt(sslmode="require", ssl_min_protocol_version="TLSv1.3"), "protocol_mismatch",
            r"unsupported protocol")
    result = lab.attempt(sslmode="require", ssl_min_protocol_version="TLSv1.2")
    connected(result)
    assert result.tls_version == "TLSv1.2"


@covers("protocol_range_invalid")
def test_protocol_range_invalid(lab: Lab) -> None:
    client = lab.attempt(sslmode="require", ssl_min_protocol_version="TLSv1.3", ssl_max_protocol_version="TLSv1.2")
    refused(client, "protocol_range_invalid")
    assert client.server_log == ""  # libpq refuses before connecting
    reload = SERVER_SCENARIOS["protocol_range_invalid"](lab).reload
    reload_classified(reload, "protocol_range_invalid", r"could not set SSL protocol version range")
    assert "SSL configuration was not reloaded" in reload.log
    connected(lab.attempt(sslmode="require"))  # the previous SSL configuration stays in force


@covers("protocol_setting_invalid")
def test_protocol_setting_invalid_value(lab: Lab) -> None:
    reload = SERVER_SCENARIOS["protocol_setting_invalid"](lab).reload
    assert list(reload.file_errors["name"]) == ["ssl_min_protocol_version"]
    reload_classified(reload, "protocol_setting_invalid", r'invalid value for parameter "ssl_min_protocol_version"')
    refused(lab.attempt(sslmode="require", ssl_min_protocol_version="TLSv1.4"), "protocol_setting_invalid")
    connected(lab.attempt(sslmode="require", ssl_min_protocol_version="TLSv1.2"))


@covers("legacy_tls_seclevel")
def test_legacy_tls_needs_lower_security_level_on_openssl3(lab: Lab) -> None:
    """Allowing TLS 1.0 by ssl_min_protocol_version is enough for PostgreSQL 16 (OpenSSL 1.1.1); PostgreSQL 15
    (OpenSSL 3, security level 1) still refuses it until ssl_ciphers lowers the level."""
    lab.configure()
    assert probe(lab.server.host, lab.server.port, "TLSv1").accepted is False  # the default minimum is TLSv1.2
    lab.configure(ssl_min_protocol_version="TLSv1")
    result = probe_lab(lab.server, "TLSv1")
    if lab.major >= 16:
        assert result.accepted, result
    else:
        assert result.accepted is False and result.error == "tlsv1 alert internal error", result
        assert "could not accept SSL connection: no suitable signature algorithm" in result.server_log
        entry = catalogue.classify(result.error or "", result.server_log)
        assert entry is not None and entry.key == "legacy_tls_seclevel", result.server_log
        lab.configure(ssl_min_protocol_version="TLSv1", ssl_ciphers="ALL:@SECLEVEL=0")
        accepted = probe(lab.server.host, lab.server.port, "TLSv1")
        assert accepted.accepted and accepted.negotiated_version == "TLSv1", accepted


# ---------------------------------------------------------------------------------------------------------
# Key and certificate files
# ---------------------------------------------------------------------------------------------------------


@covers("key_permissions")
def test_server_key_with_group_access_at_reload(lab: Lab) -> None:
    reload = SERVER_SCENARIOS["key_permissions"](lab).reload
    reload_classified(reload, "key_permissions", r'private key file "[^"]*server-0640.key" has group or world access')
    assert "SSL configuration was not reloaded" in reload.log
    connected(lab.attempt(sslmode="require"))  # the old key stays loaded
    assert lab.configure().ok  # control: the same key at 0600 reloads cleanly


def test_server_key_with_group_access_at_start(lab16: LabServer, pki: LabPKI) -> None:
    """At start there is no previous configuration to fall back to: the server refuses to start."""
    lab16.reset_config()
    lab16.set_settings({"ssl_cert_file": lab16.deliver("server-chain.crt", pki.paths.server_chain_crt, 0o644),
                        "ssl_key_file": lab16.deliver("server-0640.key", pki.paths.server_key, 0o640)})
    mark = lab16.log_mark()
    try:
        with pytest.raises(ServerStartError):
            lab16.restart(timeout=10)
        log = lab16.log_since(mark)
        assert re.search(r"FATAL:  private key file .* has group or world access", log), log
        entry = catalogue.classify("", log)
        assert entry is not None and entry.key == "key_permissions"
    finally:
        lab16.reset_config()
        lab16.start()
    connected(attempt(lab16, sslmode="require"))


@covers("key_permissions")
def test_client_key_with_group_access(lab: Lab, tmp_path: Path) -> None:
    key = tmp_path / "client.key"
    key.write_bytes(lab.p.client_key.read_bytes())
    key.chmod(0o644)
    lab.cert_auth()
    result = lab.client(lab.p.client_crt, key)
    refused(result, "key_permissions", r"could not accept SSL connection: EOF detected")
    assert "file must have permissions u=rw (0600) or less" in result.error_text
    key.chmod(0o600)
    connected(lab.client(lab.p.client_crt, key))


@covers("key_bad_decrypt")
def test_wrong_passphrase_server_key(lab: Lab) -> None:
    reload = SERVER_SCENARIOS["key_bad_decrypt"](lab).reload
    encrypted = lab.deliver("server-encrypted.key", lab.p.server_encrypted_key, 0o600)
    reload_classified(reload, "key_bad_decrypt", r'could not load private key file "[^"]*": bad decrypt')
    passfile = lab.deliver("passphrase.txt", lab.p.passphrase_file, 0o600)
    assert lab.configure(ssl_key_file=encrypted, ssl_passphrase_command=f"cat {passfile}",
                         ssl_passphrase_command_supports_reload=True).ok
    connected(lab.attempt(sslmode="require"))


@covers("key_bad_decrypt")
def test_wrong_sslpassword_client_key(lab: Lab, tmp_path: Path) -> None:
    key = encrypted_copy(lab.p.client_key, tmp_path / "client-encrypted.key", b"right-passphrase")
    lab.cert_auth()
    for wrong in (COURSE_WRONG_PASSPHRASE.decode(), None):  # None: no prompt on a terminal, an empty one is tried
        result = lab.client(lab.p.client_crt, key, sslpassword=wrong)
        refused(result, "key_bad_decrypt", r"could not accept SSL connection: EOF detected")
        if wrong is None and empty_passphrase_passes_padding(key):  # the rare case, seen by openssl pkey too
            assert result.error_text.endswith(": unsupported"), result.error_text
        else:
            assert "bad decrypt" in result.error_text, result.error_text
    connected(lab.client(lab.p.client_crt, key, sslpassword="right-passphrase"))


@covers("key_bad_decrypt")
def test_a_wrong_passphrase_that_decrypts_to_valid_padding_is_still_a_wrong_passphrase(lab: Lab,
                                                                                        tmp_path: Path) -> None:
    """About one wrong passphrase in 256 decrypts an encrypted PEM key to bytes whose padding looks valid;
    OpenSSL then fails on the contents and libpq says 'unsupported', the word it uses for an encrypted
    DER key. A suite run hit that, and labkit diagnosed a DER key. The file itself says PEM. libpq alone
    (psycopg) finds such a passphrase quickly; labkit's verdict is then taken on that one."""
    key = encrypted_copy(lab.p.client_key, tmp_path / "client-encrypted.key", b"right-passphrase")
    dsn = lab.server.dsn(sslmode="require", user="conssl")
    for n in range(5000):
        try:
            psycopg.connect(dsn, sslcert=str(lab.p.client_crt), sslkey=str(key), sslpassword=f"wrong-{n}",
                            connect_timeout=3).close()
        except psycopg.OperationalError as exc:
            if str(exc).rstrip().endswith(": unsupported"):
                break
    else:
        pytest.fail("5000 wrong passphrases, each reported as 'bad decrypt': OpenSSL no longer reaches 'unsupported'")
    lab.cert_auth()
    result = lab.client(lab.p.client_crt, key, sslpassword=f"wrong-{n}")
    assert "unsupported" in result.error_text, result.error_text  # the rare case, seen by labkit's attempt too
    refused(result, "key_bad_decrypt")


@covers("key_needs_passphrase_at_reload")
def test_encrypted_server_key_without_reloadable_passphrase(lab: Lab) -> None:
    reload = SERVER_SCENARIOS["key_needs_passphrase_at_reload"](lab).reload
    reload_classified(reload, "key_needs_passphrase_at_reload", r"cannot be reloaded because it requires a passphrase")
    connected(lab.attempt(sslmode="require"))


@covers("key_mismatch")
def test_key_does_not_match_certificate(lab: Lab) -> None:
    reload = SERVER_SCENARIOS["key_mismatch"](lab).reload
    reload_classified(reload, "key_mismatch", r"key values mismatch")
    lab.cert_auth()
    refused(lab.client(lab.p.client_crt, lab.p.client2_key), "key_mismatch", r"EOF detected")
    connected(lab.client(lab.p.client_crt, lab.p.client_key))


@covers("client_key_missing")
def test_client_certificate_without_key(lab: Lab) -> None:
    lab.cert_auth()
    result = lab.attempt(sslmode="require", user="conssl", password=None, sslcert=lab.p.client_crt)
    refused(result, "client_key_missing", r"EOF detected")
    assert "/client/no-home/.postgresql/postgresql.key" in result.error_text


@covers("client_file_unreadable")
def test_client_certificate_not_pem(lab: Lab, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.crt"
    bogus.write_text("this is not a certificate\n")
    lab.cert_auth()
    refused(lab.client(bogus, lab.p.client_key), "client_file_unreadable", r"EOF detected")
    connected(lab.client(lab.p.client_crt, lab.p.client_key))


@covers("server_cert_file_unreadable")
def test_server_certificate_file_missing(lab: Lab) -> None:
    reload = SERVER_SCENARIOS["server_cert_file_unreadable"](lab).reload
    reload_classified(reload, "server_cert_file_unreadable",
                      r'could not load server certificate file "tls/no-such.crt"')
    connected(lab.attempt(sslmode="require"))


# ---------------------------------------------------------------------------------------------------------
# pg_hba.conf and authentication
# ---------------------------------------------------------------------------------------------------------


@covers("clientcert_invalid")
def test_clientcert_1_is_rejected(lab: Lab) -> None:
    """The guide's clientcert=1 is invalid since PostgreSQL 14. Measured on 15 and 16: pg_hba_file_rules shows
    the line with empty fields and *no* error text (so the guide's `WHERE error IS NOT NULL` misses it); labkit
    reports such a row as not usable, and the log says why."""
    reload = SERVER_SCENARIOS["clientcert_invalid"](lab).reload
    reload_classified(reload, "clientcert_invalid", r'invalid value for clientcert: "1"')
    assert "pg_hba.conf was not reloaded" in reload.log and not reload.ok
    assert list(reload.hba_errors["error"]) == ["line not usable (see the server log)"]
    assert reload.hba_errors["type"].isna().all()
    reload = lab.configure(["hostssl all conssl 0.0.0.0/0 cert clientcert=verify-ca"])
    reload_classified(reload, "clientcert_invalid", r'clientcert only accepts "verify-full"')
    assert lab.configure(["hostssl all conssl 0.0.0.0/0 cert clientcert=verify-full"]).ok


@covers("hostssl_without_ssl")
def test_hostssl_rule_with_ssl_off(lab: Lab) -> None:
    reload = SERVER_SCENARIOS["hostssl_without_ssl"](lab).reload
    assert list(reload.hba_errors["error"]) == ["hostssl record cannot match because SSL is disabled"]
    reload_classified(reload, "hostssl_without_ssl", r"hostssl record cannot match because SSL is disabled")
    assert lab.configure(["hostssl all reporter 0.0.0.0/0 scram-sha-256"]).ok


@covers("cert_auth_failed")
def test_certificate_cn_does_not_match_user(lab: Lab) -> None:
    result = SERVER_SCENARIOS["cert_auth_failed"](lab).attempt
    refused(result, "cert_auth_failed",
            r"provided user name \(reporter\) and authenticated user name \(conssl\) do not match")
    assert re.search(r'FATAL:  certificate authentication failed for user "reporter"', result.server_log)
    ok = lab.client(lab.p.client2_crt, lab.p.client2_key, user="reporter")
    connected(ok)
    assert ok.current_user == "reporter" and ok.ssl_client_dn and "CN=reporter" in ok.ssl_client_dn


@covers("client_cert_required")
def test_cert_rule_without_client_certificate(lab: Lab) -> None:
    result = SERVER_SCENARIOS["client_cert_required"](lab).attempt
    refused(result, "client_cert_required", r"FATAL:  connection requires a valid client certificate")
    connected(lab.client(lab.p.client_crt, lab.p.client_key))


@covers("password_failed", "no_password")
def test_password_authentication(lab: Lab) -> None:
    result = SERVER_SCENARIOS["password_failed"](lab).attempt
    refused(result, "password_failed", r'FATAL:  password authentication failed for user "reporter"')
    silent = lab.attempt(sslmode="require", user="reporter", password=None)
    refused(silent, "no_password")
    assert "FATAL" not in silent.server_log  # a client hanging up at the password request is not logged
    connected(lab.attempt(sslmode="require", user="reporter", password=lab.passwords["reporter"]))


@covers("no_hba_no_encryption")
def test_hostssl_refuses_plain_connection(lab: Lab) -> None:
    result = SERVER_SCENARIOS["no_hba_no_encryption"](lab).attempt
    refused(result, "no_hba_no_encryption", r'FATAL:  no pg_hba.conf entry for host "127.0.0.1", user "reporter", '
                                             r'database "postgres", no encryption')
    connected(lab.attempt(sslmode="require", user="reporter", password=lab.passwords["reporter"]))


@covers("no_hba_ssl")
def test_hostnossl_refuses_tls_connection(lab: Lab) -> None:
    result = SERVER_SCENARIOS["no_hba_ssl"](lab).attempt
    refused(result, "no_hba_ssl", r"no pg_hba.conf entry for host .*, SSL encryption")
    connected(lab.attempt(sslmode="disable", user="reporter", password=lab.passwords["reporter"]), tls=False)


@covers("server_no_ssl")
def test_ssl_required_but_server_has_ssl_off(lab: Lab) -> None:
    lab.configure(ssl=False)
    result = lab.attempt(sslmode="require")
    refused(result, "server_no_ssl")
    assert "connection received" in result.server_log and "FATAL" not in result.server_log
    connected(lab.attempt(sslmode="disable"), tls=False)


# ---------------------------------------------------------------------------------------------------------
# Direct TLS (17+) and the TLS 1.3 settings of 18 (lessons 43 and 44)
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg18_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    from .conftest import _lab

    yield from _lab(tmp_path_factory, 18)


@pytest.fixture
def lab18(pg18_server: LabServer, pki: LabPKI) -> Iterator[Lab]:
    pg18_server.reset_config()
    pg18_server.reload()
    yield Lab(pg18_server, pki, ensure_roles(pg18_server))
    pg18_server.reset_config()
    pg18_server.reload()


def _direct(lab: Lab, sslmode: str = "require") -> AttemptResult:
    return lab.attempt(sslmode=sslmode, extra={"sslnegotiation": "direct"})


@covers("direct_tls_weak_sslmode")
def test_direct_tls_with_a_weak_sslmode(lab18: Lab) -> None:
    lab18.configure()
    for mode in ("disable", "allow", "prefer"):
        result = _direct(lab18, mode)
        refused(result, "direct_tls_weak_sslmode")
        assert result.server_log == "" and f'weak sslmode "{mode}"' in result.error_text  # libpq refuses alone
    connected(_direct(lab18, "require"))


@covers("direct_tls_unsupported")
def test_direct_tls_against_a_server_before_17(lab: Lab) -> None:
    lab.configure()
    result = _direct(lab)
    refused(result, "direct_tls_unsupported", r"invalid length of startup packet")
    assert "unexpected eof while reading" in result.error_text  # alone, the client's words say nothing more
    assert catalogue.classify(result.error_text).key == "connection_closed"
    connected(lab.attempt(sslmode="require", extra={"sslnegotiation": "postgres"}))


@covers("direct_tls_alpn")
def test_direct_tls_without_the_postgresql_alpn(lab18: Lab) -> None:
    from labkit.handshake import direct_with_log

    lab18.configure()
    none = direct_with_log(lab18.server, ())
    assert none["handshake"] == "accepted" and none["client saw"] == "closed after the handshake"
    assert "without ALPN protocol negotiation extension" in none["server_log"]
    assert catalogue.classify("", none["server_log"]).key == "direct_tls_alpn"
    other = direct_with_log(lab18.server, ("http/1.1",))
    assert other["handshake"] == "refused" and other["client saw"] == "tlsv1 alert no application protocol"
    assert catalogue.classify(other["client saw"], other["server_log"]).key == "direct_tls_alpn"
    good = direct_with_log(lab18.server, ("postgresql",))
    assert good["client saw"] == "authentication asked" and good["ALPN selected"] == "postgresql"


@covers("setting_unknown")
def test_a_parameter_this_release_does_not_have(lab: Lab, lab18: Lab) -> None:
    reload = lab.configure(ssl_tls13_ciphers="TLS_AES_256_GCM_SHA384")
    assert not reload.ok and list(reload.file_errors["name"]) == ["ssl_tls13_ciphers"]
    reload_classified(reload, "setting_unknown", r'unrecognized configuration parameter "ssl_tls13_ciphers"')
    control = lab18.configure(ssl_tls13_ciphers="TLS_AES_256_GCM_SHA384")
    assert control.ok and lab18.server.show("ssl_tls13_ciphers") == "TLS_AES_256_GCM_SHA384"


@covers("tls13_setting_invalid")
def test_tls13_settings_the_server_openssl_cannot_use(lab: Lab, lab18: Lab) -> None:
    reload = lab.configure(ssl_ecdh_curve="prime256v1:secp384r1")  # a list, before 18
    assert not reload.ok
    reload_classified(reload, "tls13_setting_invalid", r"ECDH: unrecognized curve name: prime256v1:secp384r1")
    assert lab.configure(ssl_ecdh_curve="secp384r1").ok and lab.server.show("ssl_ecdh_curve") == "secp384r1"
    for setting, value, log in (("ssl_groups", "X99", r"could not set group names specified in ssl_groups"),
                                ("ssl_tls13_ciphers", "TLS_FOO", r"could not set the TLSv1\.3 cipher suites")):
        reload_classified(lab18.configure(**{setting: value}), "tls13_setting_invalid", log)
    assert lab18.configure(ssl_groups="prime256v1:secp384r1").ok  # a list is fine on 18


@covers("no_shared_suite_or_group")
def test_no_suite_or_group_in_common(lab18: Lab) -> None:
    from labkit.handshake import HandshakeFailure, handshake_trace

    lab18.configure(ssl_tls13_ciphers="TLS_AES_128_CCM_SHA256")  # accepted by the server, not offered by libpq
    result = lab18.attempt(sslmode="require")
    refused(result, "no_shared_suite_or_group", r"could not accept SSL connection: no shared cipher")
    assert "alert handshake failure" in result.error_text
    lab18.configure(ssl_groups="X25519")
    mark = lab18.server.log_mark()
    with pytest.raises(HandshakeFailure) as failure:
        handshake_trace(lab18.server.host, lab18.server.port, "TLSv1.3", client_group="prime256v1")
    log = _wait_for(lab18.server, mark, "no suitable key share")
    assert catalogue.classify(failure.value.message, log).key == "no_shared_suite_or_group"
    assert handshake_trace(lab18.server.host, lab18.server.port, "TLSv1.3").group == "X25519"  # its X25519 share
    lab18.configure(ssl_tls13_ciphers="TLS_AES_256_GCM_SHA384")
    connected(lab18.attempt(sslmode="require"))


def _wait_for(server: LabServer, mark: int, text: str, seconds: float = 2.0) -> str:
    import time

    deadline, log = time.monotonic() + seconds, ""
    while text not in log and time.monotonic() < deadline:
        time.sleep(0.01)
        log = server.log_since(mark)
    return log


def test_every_entry_is_reproduced() -> None:
    from tests import test_catalogue_ends  # noqa: F401 - its @covers marks register on import

    missing = {e.key for e in catalogue.CATALOGUE} - COVERED
    assert not missing, f"catalogue entries without a reproducing test: {sorted(missing)}"


@covers("usermap_no_match")
def test_certificate_refused_by_a_user_name_map(lab: Lab) -> None:
    """map=...: the client reads only 'certificate authentication failed'; the server log names the map."""
    from labkit import hba

    hba.set_ident_maps(lab.server, {"certmap": [("conssl", "reporter")]})
    try:
        settings = {"ssl_ca_file": lab.deliver("combined.crt", lab.p.combined_crt)}
        assert lab.configure(["hostssl all conssl,reporter 0.0.0.0/0 cert map=certmap"], **settings).ok
        wrong = lab.client(lab.p.client2_crt, lab.p.client2_key, user="reporter")  # CN=reporter: no line for it
        refused(wrong, "usermap_no_match",
                r'no match in usermap "certmap" for user "reporter" authenticated as "reporter"')
        assert 'certificate authentication failed for user "reporter"' in wrong.error_text
        assert hba.login_reason(wrong.server_log).startswith('no match in usermap "certmap"')
        mapped = lab.client(lab.p.client_crt, lab.p.client_key, user="reporter")  # control: the mapped pair
        connected(mapped)
        assert mapped.current_user == "reporter"
        # a rule naming a map that pg_ident.conf lacks loads fine and refuses with the same words
        assert lab.configure(["hostssl all conssl,reporter 0.0.0.0/0 cert map=nosuch"], **settings).ok
        refused(lab.client(lab.p.client_crt, lab.p.client_key, user="reporter"), "usermap_no_match",
                r'no match in usermap "nosuch"')
    finally:
        hba.set_ident_maps(lab.server, None)
        lab.server.reload()


@covers("require_auth_failed", "require_auth_invalid")
def test_require_auth_refuses_the_servers_method(lab: Lab) -> None:
    """require_auth (libpq 16+): the client refuses a method it did not allow, and a server that asks none."""
    password = lab.passwords["reporter"]
    lab.configure(["hostssl all conssl,reporter 0.0.0.0/0 password"])
    cleartext = lab.attempt(sslmode="require", user="reporter", password=password, extra={"require_auth": "scram-sha-256"})
    refused(cleartext, "require_auth_failed")
    assert 'requirement "scram-sha-256" failed: server requested a cleartext password' in cleartext.error_text
    assert "password authentication failed" not in cleartext.server_log  # the password never left the client
    connected(lab.attempt(sslmode="require", user="reporter", password=password, extra={"require_auth": "password"}))
    lab.configure(["hostssl all conssl,reporter 0.0.0.0/0 trust"])
    skipped = lab.attempt(sslmode="require", user="reporter", password=password, extra={"require_auth": "scram-sha-256"})
    refused(skipped, "require_auth_failed")
    assert "server did not complete authentication" in skipped.error_text
    invalid = lab.attempt(sslmode="require", user="reporter", password=password, extra={"require_auth": "cert"})
    refused(invalid, "require_auth_invalid")
    assert invalid.server_log == ""  # refused before connecting
    connected(lab.attempt(sslmode="require", user="reporter", password=password, extra={"require_auth": "none"}))
