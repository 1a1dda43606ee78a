"""The catalogue read from both ends and from three clients: libpq 18 (psycopg), psql 15, node-postgres.

Each failure of issue 9's list is made for real against PostgreSQL 16 (OpenSSL 1.1.1), the two
end-confusion cases against PostgreSQL 15 (OpenSSL 3.0) too: the server is set up, every client that can
express the case connects, and the test asserts the words each one printed, the server-log line, and the
catalogue key for that pair. Where a client cannot express a case (psql 15 has no ``sslcertmode``;
node-postgres has no ``channel_binding`` value to mistype), the test asserts what that client measurably
does instead. Every case has a succeeding control.

The two ends must not be confused: a revoked or expired *server* certificate shows as
``certificate verify failed`` in libpq and as ``sslv3 alert certificate revoked|expired`` in the server
log -- the alert the client sent -- and is a server certificate problem, not a client one.
"""
from __future__ import annotations

import contextlib
import re
import select
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from labkit import catalogue
from labkit.ca import CA, pem, write_file
from labkit.client import attempt, session
from labkit.pki import LabPKI
from labkit.server import LabServer
from tests.other_clients import Seen, node_pg, psql15
from tests.test_catalogue import Lab, covers, ensure_roles, pki  # noqa: F401 - pki is a fixture

SERVER_NAMES = ("localhost", "127.0.0.1")
# node-postgres checks the server's certificate in JavaScript after the TLS handshake has completed and then
# drops the socket: no alert reaches the server, whose log shows the connection and nothing of the reason.
NODE_SILENT = "connection received"


@pytest.fixture
def lab(clean_lab16: LabServer, pki: LabPKI) -> Lab:  # noqa: F811
    return Lab(clean_lab16, pki, ensure_roles(clean_lab16))


@pytest.fixture
def both_servers(any_lab: LabServer, pki: LabPKI) -> Lab:  # noqa: F811
    """PostgreSQL 16 (OpenSSL 1.1.1) and 15 (OpenSSL 3.0): the server log's words on both."""
    return Lab(any_lab, pki, ensure_roles(any_lab))


def expect(seen: Seen, key: str, text: str, log: str | None = None) -> None:
    """Refused, with these client words (regex), classified as ``key``; the server logged ``log``."""
    assert not seen.connected, f"expected a refusal\n{seen}"
    assert re.search(text, seen.text), f"client words differ\n{seen}"
    assert seen.key == key, f"classified as {seen.key!r}, expected {key!r}\n{seen}"
    if log is not None:
        assert re.search(log, seen.server_log), f"server log lacks /{log}/\n{seen}"


def libpq18(lab: Lab, **kwargs: object) -> Seen:
    """labkit's attempt() (libpq 18 from psycopg's wheel); its key is attempt()'s, which may be measured."""
    result = attempt(lab.server, **kwargs)  # type: ignore[arg-type]
    return Seen("libpq 18", result.connected, result.error_text, result.server_log, measured=result.error_key)


def serve_with(lab: Lab, crt: Path, key: Path, *, chain: bool = True, ca_file: bool = False,
               hba: list[str] | None = None) -> None:
    """The server presents ``crt`` (+ the intermediate when ``chain``) with ``key``; optional ssl_ca_file."""
    data = crt.read_bytes() + (lab.p.intermediate_crt.read_bytes() if chain else b"")
    settings: dict[str, object] = {"ssl_cert_file": lab.server.deliver(f"fid-{crt.stem}.crt", data, 0o644),
                                   "ssl_key_file": lab.deliver(f"fid-{crt.stem}.key", key, 0o600)}
    if ca_file:
        settings["ssl_ca_file"] = lab.deliver("combined.crt", lab.p.combined_crt)
    result = lab.configure(hba or ["hostssl all conssl,reporter 0.0.0.0/0 scram-sha-256"], base=False, **settings)
    assert result.ok, result.log


def pw(lab: Lab) -> str:
    return lab.passwords["reporter"]


# ---------------------------------------------------------------------------------------------------------
# The server's certificate refused by the client: the server log holds the client's alert
# ---------------------------------------------------------------------------------------------------------


@covers("server_cert_revoked")
def test_revoked_server_certificate_is_the_servers_problem(both_servers: Lab) -> None:
    lab = both_servers
    crt, key = lab.pki.issue_server(SERVER_NAMES, name="fid-revoked-server", space="tests")
    lab.pki.revoke(crt)
    serve_with(lab, crt, key)
    crl = lab.p.combined_crl
    common = {"user": "reporter", "password": pw(lab)}
    seen = libpq18(lab, sslmode="verify-ca", sslrootcert=lab.p.root_crt, extra={"sslcrl": crl}, **common)
    expect(seen, "server_cert_revoked", r"SSL error: certificate verify failed",
           r"could not accept SSL connection: sslv3 alert certificate revoked")
    expect(psql15(lab.server, sslmode="verify-ca", sslrootcert=lab.p.root_crt, sslcrl=crl, user="reporter",
                  password=pw(lab)),
           "server_cert_revoked", r"certificate verify failed", r"sslv3 alert certificate revoked")
    by_node = node_pg(lab.server, ssl={"ca": lab.p.root_crt, "crl": crl}, **common)
    expect(by_node, "server_cert_revoked", r"^certificate revoked$")
    assert NODE_SILENT in by_node.server_log and "alert" not in by_node.server_log, by_node
    # the same words the client printed for a revoked *client* certificate read as the client's problem
    assert catalogue.classify("SSL error: sslv3 alert certificate revoked").key == "cert_revoked"
    serve_with(lab, lab.p.server_crt, lab.p.server_key)  # control: the lab's good server certificate
    assert attempt(lab.server, sslmode="verify-ca", sslrootcert=lab.p.root_crt, extra={"sslcrl": crl},
                   **common).connected


@covers("server_cert_expired")
def test_expired_server_certificate(both_servers: Lab) -> None:
    lab = both_servers
    crt, key = lab.pki.issue_server(SERVER_NAMES, name="fid-expired-server", validity="expired", space="tests")
    serve_with(lab, crt, key)
    common = {"user": "reporter", "password": pw(lab)}
    expect(libpq18(lab, sslmode="verify-ca", sslrootcert=lab.p.root_crt, **common), "server_cert_expired",
           r"certificate verify failed", r"could not accept SSL connection: sslv3 alert certificate expired")
    expect(psql15(lab.server, sslmode="verify-ca", sslrootcert=lab.p.root_crt, user="reporter", password=pw(lab)),
           "server_cert_expired", r"certificate verify failed", r"sslv3 alert certificate expired")
    expect(node_pg(lab.server, ssl={"ca": lab.p.root_crt}, **common), "server_cert_expired",
           r"^certificate has expired$")
    assert attempt(lab.server, sslmode="require", **common).connected  # control: require does not verify


@covers("client_crl_unusable")
def test_client_crl_from_another_ca(lab: Lab, tmp_path: Path) -> None:
    other = CA.root("Another CA", org="elsewhere")
    crl = tmp_path / "other.crl"
    write_file(crl, pem(other.crl()), 0o644)
    serve_with(lab, lab.p.server_crt, lab.p.server_key)
    common = {"user": "reporter", "password": pw(lab)}
    result = attempt(lab.server, sslmode="verify-ca", sslrootcert=lab.p.root_crt, extra={"sslcrl": crl}, **common)
    assert "certificate verify failed" in result.error_text and "unknown ca" in result.server_log, result
    assert result.error_key == "client_crl_unusable", result  # measured: without the CRL it connects
    # psql 15 words it the same; the same measurement (again without the CRL) tells the cause
    said = psql15(lab.server, sslmode="verify-ca", sslrootcert=lab.p.root_crt, sslcrl=crl, user="reporter",
                  password=pw(lab))
    assert not said.connected and said.key == "server_cert_untrusted" and "unknown ca" in said.server_log, said
    assert psql15(lab.server, sslmode="verify-ca", sslrootcert=lab.p.root_crt, user="reporter",
                  password=pw(lab)).connected
    expect(node_pg(lab.server, ssl={"ca": lab.p.root_crt, "crl": crl}, **common), "client_crl_unusable",
           r"^unable to get certificate CRL$")
    # control: a truly untrusted server stays untrusted even with a CRL given
    rogue = attempt(lab.server, sslmode="verify-ca", sslrootcert=lab.p.rogue_ca_crt, extra={"sslcrl": crl}, **common)
    assert rogue.error_key == "server_cert_untrusted", rogue


@covers("server_cert_no_name")
def test_server_certificate_without_any_name(lab: Lab) -> None:
    crt, key = lab.pki.issue_server(SERVER_NAMES, name="fid-no-name", san=False, subject="O=pgtls-lab,OU=no name",
                                    space="tests")
    serve_with(lab, crt, key)
    common = {"user": "reporter", "password": pw(lab)}
    text = r"could not get server's host name from server certificate"
    expect(libpq18(lab, sslmode="verify-full", sslrootcert=lab.p.root_crt, **common), "server_cert_no_name", text)
    expect(psql15(lab.server, sslmode="verify-full", sslrootcert=lab.p.root_crt, user="reporter",
                  password=pw(lab)), "server_cert_no_name", text)
    # node has no word for "no name at all": it reports the name check
    expect(node_pg(lab.server, ssl={"ca": lab.p.root_crt}, **common), "hostname_mismatch",
           r"Hostname/IP does not match certificate's altnames")
    assert attempt(lab.server, sslmode="verify-ca", sslrootcert=lab.p.root_crt, **common).connected


@covers("server_chain_incomplete")
def test_node_wordings_of_an_untrusted_server(lab: Lab) -> None:
    common = {"user": "reporter", "password": pw(lab)}
    serve_with(lab, lab.p.server_crt, lab.p.server_key, chain=True)
    expect(node_pg(lab.server, ssl={"ca": lab.p.rogue_ca_crt}, **common), "server_cert_untrusted",
           r"^unable to get local issuer certificate$")
    serve_with(lab, lab.p.server_crt, lab.p.server_key, chain=False)  # leaf only, client trusts the root
    expect(node_pg(lab.server, ssl={"ca": lab.p.root_crt}, **common), "server_chain_incomplete",
           r"^unable to verify the first certificate$")
    expect(libpq18(lab, sslmode="verify-ca", sslrootcert=lab.p.root_crt, **common), "server_cert_untrusted",
           r"certificate verify failed")
    # the guide's layout: leaf-only ssl_cert_file + ssl_ca_file = combined -> OpenSSL sends the root too
    serve_with(lab, lab.p.server_crt, lab.p.server_key, chain=False, ca_file=True,
               hba=["hostssl all conssl,reporter 0.0.0.0/0 scram-sha-256"])
    expect(node_pg(lab.server, ssl={"ca": lab.p.rogue_ca_crt}, **common), "server_cert_untrusted",
           r"^self-signed certificate in certificate chain$")
    assert node_pg(lab.server, ssl={"ca": lab.p.root_crt}, **common).connected  # control


def test_node_host_name_mismatch(lab: Lab) -> None:
    common = {"user": "reporter", "password": pw(lab)}
    serve_with(lab, lab.p.wrong_host_crt, lab.p.wrong_host_key)
    expect(node_pg(lab.server, ssl={"ca": lab.p.root_crt}, **common), "hostname_mismatch",
           r"^Hostname/IP does not match certificate's altnames: IP: 127\.0\.0\.1 is not in the cert's list")
    expect(psql15(lab.server, sslmode="verify-full", sslrootcert=lab.p.root_crt, user="reporter", password=pw(lab)),
           "hostname_mismatch", r'server certificate for "db.wrong-host.example" \(and 1 other name\) does not match')


# ---------------------------------------------------------------------------------------------------------
# libpq options of one client version
# ---------------------------------------------------------------------------------------------------------


@covers("client_cert_not_requested")
def test_sslcertmode_require_when_no_certificate_takes_part(lab: Lab) -> None:
    serve_with(lab, lab.p.server_crt, lab.p.server_key)  # no ssl_ca_file: no CertificateRequest
    common = {"user": "reporter", "password": pw(lab), "sslcert": lab.p.client_crt, "sslkey": lab.p.client_key}
    expect(libpq18(lab, sslmode="require", extra={"sslcertmode": "require"}, **common), "client_cert_not_requested",
           r"server did not request an SSL certificate")
    said = psql15(lab.server, sslmode="require", sslcertmode="require", user="reporter", password=pw(lab))
    assert not said.connected and 'invalid connection option "sslcertmode"' in said.text, said  # libpq 15: no option
    serve_with(lab, lab.p.server_crt, lab.p.server_key, ca_file=True)  # the server asks; a scram rule lets in
    expect(libpq18(lab, sslmode="require", extra={"sslcertmode": "require"}, user="reporter", password=pw(lab)),
           "client_cert_not_requested", r"server accepted connection without a valid SSL certificate")
    assert attempt(lab.server, sslmode="require", extra={"sslcertmode": "require"}, **common).connected  # control


@covers("sslrootcert_system_weak")
def test_sslrootcert_system_and_the_sslmode_libpq_chooses(lab: Lab) -> None:
    serve_with(lab, lab.p.server_crt, lab.p.server_key)
    common = {"user": "reporter", "password": pw(lab)}
    weak = libpq18(lab, sslmode="verify-ca", sslrootcert="system", **common)
    expect(weak, "sslrootcert_system_weak", r'weak sslmode "verify-ca" may not be used with sslrootcert=system')
    assert weak.server_log == ""  # refused before connecting
    # sslmode left to libpq: with sslrootcert=system it verifies (verify-full) -- the lab root is not a public CA
    unset = attempt(lab.server, sslmode=None, sslrootcert="system", **common)
    assert "sslmode" not in unset.psql and unset.error_key == "server_cert_untrusted", unset
    # psql 15 does not know 'system': it looks for a file of that name
    said = psql15(lab.server, sslmode="verify-ca", sslrootcert="system", user="reporter", password=pw(lab))
    assert said.key == "root_cert_missing" and 'root certificate file "system" does not exist' in said.text, said
    assert attempt(lab.server, sslmode=None, **common).tls_version  # control: libpq's default prefers TLS


@covers("key_der_not_decrypted")
def test_encrypted_der_client_key_without_its_passphrase(lab: Lab, tmp_path: Path) -> None:
    key = serialization.load_pem_private_key(lab.p.client_key.read_bytes(), None)
    der = tmp_path / "client-encrypted.der"
    write_file(der, key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(b"right-passphrase")), 0o600)
    lab.cert_auth()
    text = r'could not load private key file "[^"]*client-encrypted\.der": unsupported'
    for given in ("", None, "wrong"):
        expect(libpq18(lab, sslmode="verify-ca", sslrootcert=lab.p.root_crt, sslcert=lab.p.client_crt, sslkey=der,
                       sslpassword=given, user="conssl", password=None), "key_der_not_decrypted", text)
    expect(psql15(lab.server, sslmode="verify-ca", sslrootcert=lab.p.root_crt, sslcert=lab.p.client_crt, sslkey=der,
                  sslpassword="", user="conssl"), "key_der_not_decrypted", text)
    right = attempt(lab.server, sslmode="verify-ca", sslrootcert=lab.p.root_crt, sslcert=lab.p.client_crt,
                    sslkey=der, sslpassword="right-passphrase", user="conssl", password=None)
    assert right.error_key == "key_der_not_decrypted", right.error_text  # measured: not even the right one
    plain = tmp_path / "client-plain.der"
    write_file(plain, key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()), 0o600)
    pem_key = tmp_path / "client-encrypted.pem"
    write_file(pem_key, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.BestAvailableEncryption(b"right-passphrase")), 0o600)
    for path, given in ((plain, None), (pem_key, "right-passphrase")):  # controls: DER unencrypted, PEM encrypted
        ok = attempt(lab.server, sslmode="verify-ca", sslrootcert=lab.p.root_crt, sslcert=lab.p.client_crt,
                     sslkey=path, sslpassword=given, user="conssl", password=None)
        assert ok.connected, ok.error_text


# ---------------------------------------------------------------------------------------------------------
# Channel binding
# ---------------------------------------------------------------------------------------------------------


@covers("channel_binding_invalid")
def test_channel_binding_value_mistyped(lab: Lab) -> None:
    text = r'invalid channel_binding value: "requires"'
    expect(libpq18(lab, sslmode="require", channel_binding="requires"), "channel_binding_invalid", text)
    expect(psql15(lab.server, sslmode="require", channel_binding="requires", user="postgres"),
           "channel_binding_invalid", text)


@covers("channel_binding_not_offered")
def test_channel_binding_required_but_not_offered(lab: Lab) -> None:
    lab.configure(["hostssl all reporter 0.0.0.0/0 password", "hostnossl all conssl 0.0.0.0/0 scram-sha-256"])
    text = r"channel binding required but not supported by server's authentication request"
    expect(libpq18(lab, sslmode="require", channel_binding="require", user="reporter", password=pw(lab)),
           "channel_binding_not_offered", text)
    expect(psql15(lab.server, sslmode="require", channel_binding="require", user="reporter", password=pw(lab)),
           "channel_binding_not_offered", text)
    no_tls = r"channel binding required, but SSL not in use"
    expect(libpq18(lab, sslmode="disable", channel_binding="require", user="conssl",
                   password=lab.passwords["conssl"]), "channel_binding_not_offered", no_tls)
    lab.configure(["hostssl all reporter 0.0.0.0/0 scram-sha-256"])
    bound = attempt(lab.server, sslmode="require", channel_binding="require", user="reporter", password=pw(lab))
    assert bound.connected, bound.error_text  # control: SCRAM over TLS binds


@covers("channel_binding_not_used")
def test_channel_binding_required_with_cert_authentication(lab: Lab) -> None:
    lab.cert_auth()
    text = r"channel binding required, but server authenticated client without channel binding"
    expect(libpq18(lab, sslmode="verify-ca", sslrootcert=lab.p.root_crt, sslcert=lab.p.client_crt,
                   sslkey=lab.p.client_key, user="conssl", password=None, channel_binding="require"),
           "channel_binding_not_used", text)
    expect(psql15(lab.server, sslmode="verify-ca", sslrootcert=lab.p.root_crt, sslcert=lab.p.client_crt,
                  sslkey=lab.p.client_key, user="conssl", channel_binding="require"), "channel_binding_not_used", text)
    assert lab.client(lab.p.client_crt, lab.p.client_key).connected


@contextlib.contextmanager
def tls_relay(server: LabServer, crt: Path, key: Path) -> Iterator[int]:
    """A relay in the middle on loopback: it ends the client's TLS with *its own* certificate and opens a
    second TLS session to the server -- what channel binding exists to notice. Yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(10)
    front = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    front.load_cert_chain(crt, key)
    back = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    back.check_hostname, back.verify_mode = False, ssl.CERT_NONE

    def pump(a: ssl.SSLSocket, b: ssl.SSLSocket) -> None:
        peers = {a: b, b: a}
        while True:
            ready, _, _ = select.select(list(peers), [], [], 10)
            if not ready:
                return
            for sock in ready:
                while True:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
                    if not sock.pending():
                        break

    def relay(conn: socket.socket) -> None:
        try:
            request = conn.recv(8)
            conn.sendall(b"S")
            client_side = front.wrap_socket(conn, server_side=True)
            with socket.create_connection((server.host, server.port), timeout=10) as upstream:
                upstream.sendall(request)
                assert upstream.recv(1) == b"S"
                pump(client_side, back.wrap_socket(upstream))
        except (OSError, ssl.SSLError, AssertionError):
            pass
        finally:
            conn.close()

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=relay, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(timeout=10)


@covers("channel_binding_mismatch")
def test_scram_channel_binding_detects_a_relay(lab: Lab) -> None:
    lab.configure(["hostssl all reporter 0.0.0.0/0 scram-sha-256"])
    log = r"FATAL:  SCRAM channel binding check failed"
    with tls_relay(lab.server, lab.p.server2_crt, lab.p.server2_key) as port:
        relayed = attempt(lab.server, sslmode="require", channel_binding="require", user="reporter",
                          password=pw(lab), extra={"port": port})
        assert relayed.error_key == "channel_binding_mismatch", relayed
        assert "SCRAM channel binding check failed" in relayed.error_text
        said = psql15(lab.server, sslmode="require", channel_binding="require", user="reporter", password=pw(lab),
                      port=port)
        expect(said, "channel_binding_mismatch", r"SCRAM channel binding check failed", log)
        by_node = node_pg(lab.server, ssl={"rejectUnauthorized": False}, user="reporter", password=pw(lab),
                          channel_binding=True, port=port)
        expect(by_node, "channel_binding_mismatch", r"SCRAM channel binding check failed", log)
        # control: without binding the relay goes unnoticed -- the password alone cannot tell
        unbound = attempt(lab.server, sslmode="require", channel_binding="disable", user="reporter",
                          password=pw(lab), extra={"port": port})
        assert unbound.connected, unbound.error_text
    direct = attempt(lab.server, sslmode="require", channel_binding="require", user="reporter", password=pw(lab))
    assert direct.connected, direct.error_text


# ---------------------------------------------------------------------------------------------------------
# sslinfo, and what redaction must leave alone
# ---------------------------------------------------------------------------------------------------------


@covers("x509_field_invalid")
def test_sslinfo_field_name_unknown(lab: Lab) -> None:
    lab.cert_auth()
    lab.server.execute("CREATE EXTENSION IF NOT EXISTS sslinfo")
    query = "SELECT ssl_client_dn_field('bogus')"
    with session(lab.server, sslmode="verify-ca", sslrootcert=lab.p.root_crt, sslcert=lab.p.client_crt,
                 sslkey=lab.p.client_key, user="conssl", password=None) as conn:
        with pytest.raises(Exception) as raised:
            conn.execute(query)
        assert conn.execute("SELECT ssl_client_dn_field('CN')").fetchone() == ("conssl",)  # control
    assert catalogue.explain(str(raised.value)).key == "x509_field_invalid", raised.value
    said = psql15(lab.server, sql=query, sslmode="verify-ca", sslrootcert=lab.p.root_crt, sslcert=lab.p.client_crt,
                  sslkey=lab.p.client_key, user="conssl")
    expect(said, "x509_field_invalid", r'invalid X\.509 field name: "bogus"')
    by_node = node_pg(lab.server, ssl={"ca": lab.p.root_crt, "cert": lab.p.client_crt, "key": lab.p.client_key},
                      user="conssl", sql=query)
    expect(by_node, "x509_field_invalid", r'invalid X\.509 field name: "bogus"')


def test_a_password_that_is_a_word_of_the_message_is_not_redacted_into_it(lab: Lab) -> None:
    lab.configure(["hostssl all reporter 0.0.0.0/0 scram-sha-256"])
    result = attempt(lab.server, sslmode="require", user="reporter", password="pass")
    assert 'password authentication failed for user "reporter"' in result.error_text, result.error_text
    assert result.error_key == "password_failed" and "***word" not in result.server_log + result.error_text
    assert "PGPASSWORD=***" in result.psql and "pass" not in result.psql.replace("PGPASSWORD", "")


def test_explain_reads_any_clients_message_and_pasted_log_lines() -> None:
    node = "Error: self-signed certificate in certificate chain"
    assert catalogue.explain(node).key == "server_cert_untrusted"
    psql = 'psql: error: connection to server at "127.0.0.1", port 5432 failed: SSL error: certificate verify failed'
    pasted = psql + "\n2026-12-02 00:10:00.123 UTC [4242] LOG:  could not accept SSL connection: sslv3 alert " \
                    "certificate revoked"
    found = catalogue.explain(pasted)
    assert found.key == "server_cert_revoked" and found.seen_in == "server log", found
    assert "cause:" in str(found) and "fix:" in str(found)
    assert catalogue.explain(psql).key == "server_cert_untrusted"
    assert catalogue.explain("everything is fine").key is None
    with pytest.raises(TypeError):
        catalogue.explain(None)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------
# The course's everyday failures, read from psql 15 and node-postgres too
# ---------------------------------------------------------------------------------------------------------


def test_client_certificate_failures_from_psql15_and_node(both_servers: Lab) -> None:
    """The server judges the client's certificate; its alert reaches every client in OpenSSL 3.0's words."""
    lab = both_servers
    lab.cert_auth(ssl_crl_file=lab.deliver("combined.crl", lab.p.combined_crl))
    root = lab.p.root_crt
    cases = [("cert_revoked", lab.p.revoked_client_crt, lab.p.revoked_client_key, r"sslv3 alert certificate revoked"),
             ("cert_expired", lab.p.expired_client_crt, lab.p.expired_client_key, r"sslv3 alert certificate expired"),
             ("unknown_ca", lab.p.rogue_client_crt, lab.p.rogue_client_key, r"tlsv1 alert unknown ca")]
    for key, crt, private, words in cases:
        expect(psql15(lab.server, sslmode="verify-ca", sslrootcert=root, sslcert=crt, sslkey=private, user="conssl"),
               key, words, r"could not accept SSL connection: certificate verify failed")
        by_node = node_pg(lab.server, user="conssl", ssl={"ca": root, "cert": crt, "key": private})
        if by_node.settled:
            expect(by_node, key, words, r"could not accept SSL connection: certificate verify failed")
        else:  # measured on 16 (TLS 1.3), now and then: node-postgres ends without a word -- the server log tells
            assert lab.major >= 16 and by_node.text == "" and by_node.key == key, by_node
            assert re.search(r"Client certificate verification failed at depth 0", by_node.server_log), by_node
    no_cert = node_pg(lab.server, user="conssl", ssl={"ca": root})
    expect(no_cert, "client_cert_required", r"connection requires a valid client certificate")
    wrong_user = node_pg(lab.server, user="reporter", ssl={"ca": root, "cert": lab.p.client_crt,
                                                           "key": lab.p.client_key})
    expect(wrong_user, "cert_auth_failed", r'certificate authentication failed for user "reporter"')
    assert node_pg(lab.server, user="conssl", ssl={"ca": root, "cert": lab.p.client_crt,
                                                   "key": lab.p.client_key}).connected  # control


def test_authentication_and_transport_failures_from_psql15_and_node(lab: Lab) -> None:
    lab.configure(["hostssl all reporter 0.0.0.0/0 scram-sha-256"])
    expect(node_pg(lab.server, user="reporter", password="not-it", ssl={"ca": lab.p.root_crt}), "password_failed",
           r'password authentication failed for user "reporter"')
    expect(psql15(lab.server, sslmode="require", user="reporter", password="not-it"), "password_failed",
           r'password authentication failed for user "reporter"')
    expect(node_pg(lab.server, user="reporter", password=pw(lab)), "no_hba_no_encryption",
           r'no pg_hba\.conf entry for host "127\.0\.0\.1", user "reporter", database "postgres", no encryption')
    expect(psql15(lab.server, sslmode="verify-ca", sslrootcert=lab.p.rogue_ca_crt, user="reporter",
                  password=pw(lab)), "server_cert_untrusted", r"certificate verify failed", r"alert unknown ca")
    lab.configure(["host all reporter 0.0.0.0/0 scram-sha-256"], ssl=False)
    expect(node_pg(lab.server, user="reporter", password=pw(lab), ssl={"ca": lab.p.root_crt}), "server_no_ssl",
           r"The server does not support SSL connections")
    expect(psql15(lab.server, sslmode="require", user="reporter", password=pw(lab)), "server_no_ssl",
           r"server does not support SSL, but SSL was required")
    assert node_pg(lab.server, user="reporter", password=pw(lab)).connected  # control: plain text allowed here
