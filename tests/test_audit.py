"""``labkit audit`` against real servers on loopback: the guide's hardened state and deliberately weak labs.

One PostgreSQL 16 lab (OpenSSL 1.1.1, the build that still lets TLS 1.0 be switched on) is put in each state
with the guide's layers; every check's verdict is asserted in a state where it passes and in one where it
fails (or warns, or cannot measure), and the failing evidence is asserted to name what was seen. The inside
view uses a role with the documented least privilege (pg_read_all_settings, pg_monitor, and SELECT on
pg_hba_file_rules granted by a superuser); the password travels only in PGPASSWORD and is asserted absent
from every output.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import shutil
import socket
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from psycopg import sql

from labkit import layers as L, transaction
from labkit.audit import outputs
from labkit.audit.checks import FAIL, NOT_MEASURABLE, PASS, WARN, Context, checks_for
from labkit.audit.profiles import get_profile
from labkit.audit.run import TargetReport, audit, audit_target
from labkit.audit.targets import parse_target
from labkit.pki import LabPKI
from labkit.server import LabServer
from tests.helpers import labkit

AUDITOR = "auditor"
ROLES = ("conssl", AUDITOR, "plainrole")


# ------------------------------------------------------------------------------------------------ fixtures


class Lab:
    """The audited lab: its server, PKI, generated passwords, and the guide's layers in a chosen state."""

    def __init__(self, server: LabServer, pki: LabPKI) -> None:
        self.server = server
        self.pki = pki
        self.password = {role: secrets.token_urlsafe(18) for role in ROLES}

    def dsn(self, user: str | None = AUDITOR, sslmode: str = "require", **extra: str) -> str:
        params = {"host": "127.0.0.1", "port": str(self.server.port), "dbname": "postgres", "sslmode": sslmode,
                  **({"user": user} if user else {}), **extra}
        return " ".join(f"{key}={value}" for key, value in params.items())

    def audit(self, profile: str = "guide", user: str | None = AUDITOR, sslmode: str = "require",
              root: Path | None = None, min_tls: str | None = None, now: dt.datetime | None = None,
              monkeypatch: pytest.MonkeyPatch | None = None) -> TargetReport:
        """Audit the lab in process; the role's password comes from PGPASSWORD, as documented."""
        target = parse_target(self.dsn(user, sslmode), root=root or self.pki.paths.root_crt)
        with pytest.MonkeyPatch.context() as patch:
            if user:
                patch.setenv("PGPASSWORD", self.password[user])
            return audit_target(target, get_profile(profile, min_tls), now=now)

    def apply(self, *layers: L.Layer) -> None:
        self.server.reset_config()
        result = transaction.apply(self.server, *layers)
        assert result.ok, result.summary().to_string()

    def hardened(self, *, cert: str | Path = "server_chain", key: str | Path | None = None,
                 protocols: L.Layer | None = None, hba: L.Layer | None = None, ca: bool = True) -> None:
        """The guide's six layers (Fase #2), with the auditor allowed over hostssl; parts can be swapped."""
        layers = [L.layer_ssl_on(self.pki, cert, key), protocols or L.layer_protocols("TLSv1.2", "TLSv1.3"),
                  hba or L.layer_hostssl("scram-sha-256", ("conssl", AUDITOR, "plainrole"),
                                         extra_rules=L.GUIDE_HBA_RULES[1:]),
                  L.layer_ciphers(L.GUIDE_CIPHERS, True)]
        if ca:
            layers += [L.layer_crl(self.pki, "combined"), L.layer_ca(self.pki, "combined")]
        self.apply(*layers)


def _make_lab(major: int) -> Iterator[Lab]:
    # Not below /tmp/pytest-of-root: every pytest session that starts on this machine sets that folder back to
    # 0700, and a server account that cannot traverse it cannot read its own pg_hba.conf (measured).
    workspace = Path(tempfile.mkdtemp(prefix=f"labkit-audit-lab{major}-"))
    workspace.chmod(0o755)
    with socket.socket() as probe:  # a port of our own: other labs on this machine start on 5416
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = LabServer.up(workspace, backend="local", pg_version=major, port=port)
    try:
        made = Lab(server, LabPKI.ensure(workspace / "pki"))
        for role in ROLES:
            server.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(made.password[role])))
        server.execute(sql.SQL("GRANT pg_read_all_settings, pg_monitor TO {}").format(sql.Identifier(AUDITOR)))
        server.execute(sql.SQL("GRANT SELECT ON pg_hba_file_rules TO {}").format(sql.Identifier(AUDITOR)))
        server.execute(sql.SQL("GRANT EXECUTE ON FUNCTION pg_hba_file_rules() TO {}").format(sql.Identifier(AUDITOR)))
        yield made
    finally:
        server.down()
        shutil.rmtree(workspace, ignore_errors=True)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    """PostgreSQL 16 built with OpenSSL 1.1.1 (the build on which TLS 1.0 can still be switched on)."""
    yield from _make_lab(16)


@pytest.fixture(scope="module")
def audited_pg15() -> Iterator[Lab]:
    """Debian's PostgreSQL 15 with OpenSSL 3 (named apart from conftest's session-wide ``lab15``)."""
    yield from _make_lab(15)


def verdicts(report: TargetReport) -> dict[str, str]:
    return {check.id: check.verdict for check in report.checks}


def evidence(report: TargetReport, check_id: str) -> str:
    return next(check.evidence for check in report.checks if check.id == check_id)


def server_cert(pki: LabPKI, folder: Path, name: str, *, days: tuple[int, int] = (-1, 365),
                key: object | None = None, digest: hashes.HashAlgorithm | None = None) -> tuple[Path, Path]:
    """A server certificate from the lab's intermediate with the validity and key a weak state needs."""
    inter = x509.load_pem_x509_certificate(pki.paths.intermediate_crt.read_bytes())
    inter_key = serialization.load_pem_private_key(pki.paths.intermediate_key.read_bytes(), None)
    private = key or ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    import ipaddress

    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(inter.subject).public_key(private.public_key())  # type: ignore[attr-defined]
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + dt.timedelta(days=days[0])).not_valid_after(now + dt.timedelta(days=days[1]))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(inter.public_key()), False)  # type: ignore[arg-type]
            .sign(inter_key, digest or hashes.SHA256()))  # type: ignore[arg-type]
    crt, key_file = folder / f"{name}.crt", folder / f"{name}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,  # type: ignore[attr-defined]
                                               serialization.NoEncryption()))
    key_file.chmod(0o600)
    return crt, key_file


def sslyze_suites(lab: Lab) -> dict[str, list[str]]:
    """sslyze's own enumeration (each suite offered alone) of TLS 1.0-1.2: the reference for ours."""
    import sslyze

    fields = {"TLSv1": "tls_1_0_cipher_suites", "TLSv1.1": "tls_1_1_cipher_suites", "TLSv1.2": "tls_1_2_cipher_suites"}
    commands = {sslyze.ScanCommand.TLS_1_0_CIPHER_SUITES, sslyze.ScanCommand.TLS_1_1_CIPHER_SUITES,
                sslyze.ScanCommand.TLS_1_2_CIPHER_SUITES}
    request = sslyze.ServerScanRequest(
        server_location=sslyze.ServerNetworkLocation("localhost", lab.server.port, "127.0.0.1"),
        network_configuration=sslyze.ServerNetworkConfiguration(
            "localhost", tls_opportunistic_encryption=sslyze.ProtocolWithOpportunisticTlsEnum.POSTGRES),
        scan_commands=commands)
    scanner = sslyze.Scanner()
    scanner.queue_scans([request])
    result = next(iter(scanner.get_results())).scan_result
    return {version: sorted(s.cipher_suite.openssl_name for s in getattr(result, name).result.accepted_cipher_suites)
            for version, name in fields.items()}


# ------------------------------------------------------------------------------------------------ hardened


def test_hardened_lab_passes_every_guide_check(lab: Lab) -> None:
    lab.hardened()
    mark = lab.server.log_mark()
    wal_before = lab.server.execute("SELECT pg_current_wal_insert_lsn()::text AS lsn")[0]["lsn"]
    report = lab.audit()
    wal_after = lab.server.execute("SELECT pg_current_wal_insert_lsn()::text AS lsn")[0]["lsn"]
    log_lines = len(lab.server.log_since(mark).splitlines())
    assert wal_before == wal_after  # nothing was written to the server (any write, even a catalog one, is WAL)
    lab.server.execute("CREATE TABLE audit_control (x int)")  # the control: one small write moves it
    lab.server.execute("DROP TABLE audit_control")
    assert lab.server.execute("SELECT pg_current_wal_insert_lsn()::text AS lsn")[0]["lsn"] != wal_after
    assert report.error is None
    assert set(verdicts(report).values()) == {PASS}, {c.id: c.evidence for c in report.checks if c.verdict != PASS}
    assert {c.id for c in report.checks} == {c.id for c in checks_for(get_profile("guide"))}
    assert len(report.checks) == 21
    # the evidence is the observation, and says where it was seen
    assert "TLSv1 refused, TLSv1.1 refused, TLSv1.2 accepted, TLSv1.3 accepted" in evidence(report, "OUT-TLS-FLOOR")
    assert "no pg_hba.conf entry" in evidence(report, "OUT-PLAINTEXT-LOGIN")
    assert "as 'auditor' on PostgreSQL 16" in evidence(report, "IN-MIN-PROTOCOL")
    assert "cert clientcert=verify-full" in evidence(report, "IN-HBA-CERT")
    # only what a check needs is scanned: TLS 1.0/1.1 suites are not enumerated once both versions are refused
    assert set(report.outside.suites) == {"TLSv1.2", "TLSv1.3"}
    assert sorted(report.outside.suites["TLSv1.2"]) == sslyze_suites(lab)["TLSv1.2"]
    assert report.outside.groups is None  # the guide's profile has no group rule, so groups are not scanned
    # measured: 76 lines (one "connection received" per handshake, 5 refusals); with sslyze's suite-by-suite
    # enumeration of TLS 1.2 the same audit wrote 358, and a full sslyze scan 1,407
    assert log_lines < 120, f"the audit wrote {log_lines} server log lines"


def test_hardened_lab_on_postgresql15_openssl3(audited_pg15: Lab) -> None:
    """The same verdicts on the other server build; the TLS 1.0 floor cannot be opened there (OpenSSL 3's
    security level refuses TLS 1.0 handshakes with the lab's ciphers), and the audit says so by observation."""
    lab15 = audited_pg15
    lab15.hardened()
    report = lab15.audit()
    assert set(verdicts(report).values()) == {PASS}, {c.id: c.evidence for c in report.checks if c.verdict != PASS}
    assert "on PostgreSQL 15" in evidence(report, "IN-SSL-ON")
    lab15.hardened(protocols=L.layer_protocols("TLSv1", "TLSv1.3"))
    floor = lab15.audit()
    assert verdicts(floor)["IN-MIN-PROTOCOL"] == FAIL  # the setting says TLSv1 ...
    assert verdicts(floor)["OUT-TLS-FLOOR"] == PASS  # ... but no TLS 1.0/1.1 handshake completes (measured)
    assert floor.outside.versions["TLSv1"]["result"] == "refused"


def test_cli_acceptance_hardened_exits_0_and_writes_four_files(lab: Lab, tmp_path: Path) -> None:
    lab.hardened()
    out = tmp_path / "audit"
    done = labkit("audit", lab.dsn(sslmode="verify-full", sslrootcert=str(lab.pki.paths.root_crt)),
                  "--out", str(out), env={"PGPASSWORD": lab.password[AUDITOR]})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 failed, 0 warn, 0 not measurable, 21 passed" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "junit.xml", "report.pdf", "results.json"]
    assert (out / "report.pdf").read_bytes()[:5] == b"%PDF-"
    data = json.loads((out / "results.json").read_text())
    jsonschema.validate(data, outputs.schema())
    assert data["exit_code"] == 0 and data["summary"]["pass"] == 21
    suite = ET.parse(out / "junit.xml").getroot()
    assert suite.tag == "testsuites" and suite.get("tests") == "21" and suite.get("failures") == "0"
    for path in out.iterdir():
        assert lab.password[AUDITOR].encode() not in path.read_bytes(), path.name
    html = (out / "index.html").read_text()
    assert "<script" not in html and not re.search(r'(?:src|href)="(?:https?:)?//', html)  # opens offline


def test_audit_index_requests_nothing_in_chromium(lab: Lab, tmp_path: Path) -> None:
    from tests.test_report_offline import RecordingProxy, rendered_dom

    lab.hardened()
    out = tmp_path / "audit"
    done = labkit("audit", lab.dsn(), "--root", str(lab.pki.paths.root_crt), "--out", str(out), "--no-pdf",
                  env={"PGPASSWORD": lab.password[AUDITOR]})
    assert done.returncode == 0, done.stdout + done.stderr
    proxy = RecordingProxy()
    import threading

    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        dom = rendered_dom(out / "index.html", proxy, tmp_path)
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert proxy.requests == []
    assert dom.count('data-verdict="pass"') == 21


# ------------------------------------------------------------------------------------------------ weak states


def test_defaults_fail_with_evidence_and_exit_1(lab: Lab, tmp_path: Path) -> None:
    lab.server.reset_config()
    lab.server.reload()
    report = lab.audit()
    v = verdicts(report)
    assert v["OUT-CERT-ROOT"] == FAIL and "pgtls-lab bootstrap" in evidence(report, "OUT-CERT-ROOT")
    assert "self-signed and is not a root of the bundle" in evidence(report, "OUT-CERT-ROOT")
    assert v["OUT-CERT-CHAIN"] == PASS and "self-signed" in evidence(report, "OUT-CERT-CHAIN")
    assert v["OUT-CERT-EXPIRY"] == WARN and "expires in" in evidence(report, "OUT-CERT-EXPIRY")  # a week-long cert
    assert v["OUT-CLIENT-CERT"] == FAIL and "no CertificateRequest" in evidence(report, "OUT-CLIENT-CERT")
    assert v["OUT-PLAINTEXT-LOGIN"] == FAIL and "password" in evidence(report, "OUT-PLAINTEXT-LOGIN")
    assert v["IN-HBA-TLS"] == FAIL and "host all all 0.0.0.0 0.0.0.0 scram-sha-256" in evidence(report, "IN-HBA-TLS")
    assert v["IN-HBA-CERT"] == FAIL
    assert v["OUT-TLS-FLOOR"] == PASS  # PostgreSQL's own default floor is TLS 1.2
    out = tmp_path / "weak"
    done = labkit("audit", lab.dsn(), "--root", str(lab.pki.paths.root_crt), "--out", str(out), "--no-pdf",
                  env={"PGPASSWORD": lab.password[AUDITOR]})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL IN-HBA-TLS: TCP lines that accept connections without TLS: line" in done.stdout
    suite = ET.parse(out / "junit.xml").getroot()
    failures = [case.get("name", "") for case in suite.iter("testcase") if case.find("failure") is not None]
    assert any(name.startswith("OUT-PLAINTEXT-LOGIN") for name in failures)
    jsonschema.validate(json.loads((out / "results.json").read_text()), outputs.schema())


def test_host_line_beside_hostssl(lab: Lab) -> None:
    lab.hardened(hba=L.layer_hostssl("scram-sha-256", ("conssl", AUDITOR),
                                     extra_rules=("host  all  all  0.0.0.0/0  scram-sha-256",)))
    report = lab.audit()
    v = verdicts(report)
    assert v["IN-HBA-TLS"] == FAIL and "host all all 0.0.0.0 0.0.0.0 scram-sha-256" in evidence(report, "IN-HBA-TLS")
    assert v["OUT-PLAINTEXT-LOGIN"] == FAIL
    assert "password authentication failed" in evidence(report, "OUT-PLAINTEXT-LOGIN") or \
        "no password supplied" in evidence(report, "OUT-PLAINTEXT-LOGIN")
    assert v["IN-HBA-CERT"] == FAIL  # this hba has no cert line
    assert v["OUT-SUITES"] == PASS and v["OUT-CERT-ROOT"] == PASS


def test_tls10_floor_on_openssl_111(lab: Lab) -> None:
    lab.hardened(protocols=L.layer_protocols("TLSv1", "TLSv1.3"))
    report = lab.audit()
    v = verdicts(report)
    assert v["OUT-TLS-FLOOR"] == FAIL
    assert "accepted below TLSv1.2: TLSv1, TLSv1.1" in evidence(report, "OUT-TLS-FLOOR")
    assert v["IN-MIN-PROTOCOL"] == FAIL and "ssl_min_protocol_version = TLSv1 " in evidence(report, "IN-MIN-PROTOCOL")
    assert report.outside.suites["TLSv1"]  # enumerated because the version was accepted
    # the elimination enumeration finds exactly what sslyze's suite-by-suite scan finds
    assert {v: sorted(report.outside.suites[v]) for v in ("TLSv1", "TLSv1.1", "TLSv1.2")} == sslyze_suites(lab)
    # --min-tls lowers the floor: the same observation then passes
    lowered = lab.audit(min_tls="TLSv1")
    assert verdicts(lowered)["OUT-TLS-FLOOR"] == PASS and verdicts(lowered)["IN-MIN-PROTOCOL"] == PASS


def test_leaf_only_chain_is_a_missing_intermediate(lab: Lab) -> None:
    lab.hardened(cert="server", ca=False)
    report = lab.audit(root=lab.pki.paths.root_crt)
    v = verdicts(report)
    assert len(report.outside.chain) == 1
    assert v["OUT-CERT-CHAIN"] == FAIL and "missing intermediate" in evidence(report, "OUT-CERT-CHAIN")
    assert v["OUT-CERT-ROOT"] == FAIL  # a client trusting only the root cannot validate it
    assert "Intermediate CA,O=pgtls-lab is neither sent by the server nor in the bundle" in evidence(report, "OUT-CERT-ROOT")
    with_intermediate = lab.audit(root=lab.pki.paths.combined_crt)  # the guide's sslrootcert=combined.crt
    assert verdicts(with_intermediate)["OUT-CERT-ROOT"] == PASS
    assert verdicts(with_intermediate)["OUT-CERT-CHAIN"] == FAIL  # the server still does not send it
    # Measured: once ssl_ca_file is set, OpenSSL completes the server's chain from it (leaf, intermediate, root).
    lab.hardened(cert="server", ca=True)
    completed = lab.audit()
    assert verdicts(completed)["OUT-CERT-CHAIN"] == PASS
    assert len(completed.outside.chain) == 3 and "the root itself is sent too" in evidence(completed, "OUT-CERT-CHAIN")


def test_expired_server_certificate(lab: Lab, tmp_path: Path) -> None:
    crt, key = server_cert(lab.pki, tmp_path, "expired", days=(-30, -1))
    lab.hardened(cert=crt, key=key)
    report = lab.audit()
    v = verdicts(report)
    assert v["OUT-CERT-EXPIRY"] == FAIL and "expired 1 day(s) ago" in evidence(report, "OUT-CERT-EXPIRY")
    assert v["OUT-CERT-ROOT"] == FAIL and "not valid" in evidence(report, "OUT-CERT-ROOT").lower()


def test_wrong_name_certificate(lab: Lab) -> None:
    lab.hardened(cert="wrong_host")
    report = lab.audit()
    v = verdicts(report)
    assert v["OUT-CERT-NAME"] == FAIL
    assert "'127.0.0.1' is not named by the certificate (DNS:db.wrong-host.example" in evidence(report, "OUT-CERT-NAME")
    assert v["OUT-CERT-ROOT"] == PASS  # the chain itself is fine: only the name is wrong


def test_weak_key_and_sha1_signature(lab: Lab, tmp_path: Path) -> None:
    """cryptography refuses to sign with SHA-1, so the openssl command line issues this one."""
    import subprocess

    key = tmp_path / "weak.key"
    key.write_bytes(rsa.generate_private_key(65537, 1024).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key.chmod(0o600)
    ext = tmp_path / "ext.cnf"
    ext.write_text("subjectAltName = DNS:localhost, IP:127.0.0.1\nextendedKeyUsage = serverAuth\n")
    csr = subprocess.run(["openssl", "req", "-new", "-key", str(key), "-subj", "/CN=localhost"],
                         capture_output=True, check=True).stdout
    crt = tmp_path / "weak.crt"
    subprocess.run(["openssl", "x509", "-req", "-sha1", "-days", "30", "-CA", str(lab.pki.paths.intermediate_crt),
                    "-CAkey", str(lab.pki.paths.intermediate_key), "-CAcreateserial", "-extfile", str(ext),
                    "-out", str(crt)], input=csr, capture_output=True, check=True)
    lab.hardened(cert=crt, key=key)
    report = lab.audit()
    v = verdicts(report)
    assert v["OUT-CERT-KEY"] == FAIL and "RSA 1024 bits: below 2048" in evidence(report, "OUT-CERT-KEY")
    assert v["OUT-CERT-SIGNATURE"] == FAIL and "CN=localhost: sha1" in evidence(report, "OUT-CERT-SIGNATURE")


def test_trust_over_tcp(lab: Lab) -> None:
    lab.hardened(hba=L.layer_hostssl("trust", ("conssl", AUDITOR)))
    report = lab.audit()
    v = verdicts(report)
    assert v["IN-HBA-AUTH"] == FAIL and "hostssl all auditor 0.0.0.0 0.0.0.0 trust" in evidence(report, "IN-HBA-AUTH")
    assert v["IN-HBA-TLS"] == PASS and v["OUT-PLAINTEXT-LOGIN"] == PASS  # trust, but only over TLS


def test_plaintext_sessions_open(lab: Lab) -> None:
    lab.hardened(hba=L.layer_hostssl("scram-sha-256", ("conssl", AUDITOR),
                                     extra_rules=("host  all  plainrole  127.0.0.1/32  scram-sha-256",)))
    with psycopg.connect(**lab.server.conninfo(user="plainrole", password=lab.password["plainrole"],
                                               sslmode="disable", passfile=None)) as plain:
        pid = plain.info.backend_pid
        report = lab.audit()
    v = verdicts(report)
    assert v["IN-SESSIONS-TLS"] == FAIL
    assert f"pid {pid} 'plainrole' from 127.0.0.1" in evidence(report, "IN-SESSIONS-TLS")
    lab.hardened()
    assert verdicts(lab.audit())["IN-SESSIONS-TLS"] == PASS


def test_passphrase_written_in_the_setting(lab: Lab) -> None:
    literal = "hunter2-" + secrets.token_hex(4)
    lab.hardened()
    lab.server.set_settings({"ssl_passphrase_command": f"echo {literal}"})
    lab.server.reload()
    report = lab.audit()
    assert verdicts(report)["IN-PASSPHRASE"] == FAIL
    assert "runs 'echo' with the passphrase written in the setting" in evidence(report, "IN-PASSPHRASE")
    assert literal not in json.dumps(report.as_json(dt.datetime.now(dt.timezone.utc)), default=str)
    lab.server.set_settings({"ssl_passphrase_command": f"cat {lab.server.workspace.path}/no-such-file"})
    lab.server.reload()
    assert verdicts(lab.audit())["IN-PASSPHRASE"] == PASS


def test_ssl_off_is_seen_from_both_sides(lab: Lab) -> None:
    lab.apply(L.layer_hostssl("scram-sha-256", ("conssl",),
                              extra_rules=(f"host  all  {AUDITOR}  127.0.0.1/32  scram-sha-256",)))
    lab.server.set_settings({"ssl": False})
    lab.server.reload()
    report = lab.audit(sslmode="disable")
    v = verdicts(report)
    assert v["OUT-SSLREQUEST"] == FAIL and "answered 'N'" in evidence(report, "OUT-SSLREQUEST")
    assert v["IN-SSL-ON"] == FAIL and "ssl = off" in evidence(report, "IN-SSL-ON")
    assert v["OUT-CERT-ROOT"] == NOT_MEASURABLE and "offers no TLS" in evidence(report, "OUT-CERT-ROOT")
    assert v["OUT-PLAINTEXT-LOGIN"] == FAIL  # measured all the same: the host line asks for a password


def test_tls13_missing_fails_guide_and_warns_cis(lab: Lab) -> None:
    lab.hardened(protocols=L.layer_protocols("TLSv1.2", "TLSv1.2"))
    assert verdicts(lab.audit())["OUT-TLS13"] == FAIL
    assert verdicts(lab.audit(profile="cis"))["OUT-TLS13"] == WARN


def test_mozilla_profiles_judge_the_guide_state(lab: Lab) -> None:
    lab.hardened()
    intermediate = lab.audit(profile="mozilla-intermediate")
    v = verdicts(intermediate)
    assert v["OUT-SUITES"] == FAIL and "ECDHE-ECDSA-AES256-SHA" in evidence(intermediate, "OUT-SUITES")
    assert v["OUT-GROUPS"] == PASS and intermediate.outside.groups == ["prime256v1"]
    assert "OUT-CLIENT-CERT" not in v and "IN-HBA-CERT" not in v  # not part of Mozilla's profiles
    modern = lab.audit(profile="mozilla-modern")
    assert verdicts(modern)["OUT-TLS-FLOOR"] == FAIL and verdicts(modern)["OUT-CERT-KEY"] == PASS
    lab.server.set_settings({"ssl_ecdh_curve": "secp521r1"})
    lab.server.reload()
    odd = lab.audit(profile="mozilla-intermediate")
    assert verdicts(odd)["OUT-GROUPS"] == FAIL and "secp521r1" in evidence(odd, "OUT-GROUPS")


def test_least_privilege_and_what_cannot_be_measured(lab: Lab) -> None:
    lab.hardened()
    plain = lab.audit(user="plainrole")
    v = verdicts(plain)
    for check_id in ("IN-HBA-TLS", "IN-HBA-AUTH", "IN-HBA-CERT"):
        assert v[check_id] == NOT_MEASURABLE and "permission denied" in evidence(plain, check_id)
    assert v["IN-SESSIONS-TLS"] == NOT_MEASURABLE and "pg_read_all_stats" in evidence(plain, "IN-SESSIONS-TLS")
    assert v["IN-PASSPHRASE"] == NOT_MEASURABLE and "pg_read_all_settings" in evidence(plain, "IN-PASSPHRASE")
    assert v["IN-AUDIT-ROLE"] == PASS
    nobody = lab.audit(user=None)
    assert nobody.error is None and verdicts(nobody)["IN-SSL-ON"] == NOT_MEASURABLE
    assert "no role given" in evidence(nobody, "IN-SSL-ON")
    assert verdicts(nobody)["OUT-PLAINTEXT-LOGIN"] == PASS  # the outside view needs no credentials


def test_secret_hba_options_are_not_reported(lab: Lab) -> None:
    """RADIUS is built into every PostgreSQL (LDAP is not in the npm build); its shared secret is an hba option."""
    secret = "radius-" + secrets.token_hex(6)
    radius = f"hostssl  all  plainrole  127.0.0.1/32  radius  radiusservers=127.0.0.1 radiussecrets={secret}"
    lab.hardened(hba=L.layer_hostssl("scram-sha-256", ("conssl", AUDITOR), extra_rules=(radius,)))
    report = lab.audit()
    assert any("radiusservers=127.0.0.1" in " ".join(r["options"] or []) for r in report.inside.hba or [])
    text = json.dumps(report.as_json(dt.datetime.now(dt.timezone.utc)), default=str)
    assert secret not in text and "radiussecrets=***" in text


def test_superuser_audit_role_warns(lab: Lab) -> None:
    lab.hardened()
    lab.server.execute(sql.SQL("ALTER ROLE conssl SUPERUSER"))
    try:
        report = lab.audit(user="conssl")
    finally:
        lab.server.execute(sql.SQL("ALTER ROLE conssl NOSUPERUSER"))
    assert verdicts(report)["IN-AUDIT-ROLE"] == WARN and "superuser 'conssl'" in evidence(report, "IN-AUDIT-ROLE")


def test_version_support_is_judged_on_the_observed_version(lab: Lab) -> None:
    lab.hardened()
    today = lab.audit()
    assert verdicts(today)["IN-VERSION"] == PASS and "16." in evidence(today, "IN-VERSION")
    later = dt.datetime(2029, 1, 1, tzinfo=dt.timezone.utc)
    ctx = Context(today.target, get_profile("guide"), today.outside, today.inside, later)
    version = next(c for c in checks_for(ctx.profile) if c.id == "IN-VERSION").run(ctx)
    assert version.verdict == FAIL and "out of support since 2028-11-09" in version.evidence


# ------------------------------------------------------------------------------------------------ errors, concurrency


def test_connection_errors_exit_2(lab: Lab, tmp_path: Path) -> None:
    lab.hardened()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    done = labkit("audit", f"host=127.0.0.1 port={free_port} user=auditor", "--out", str(tmp_path / "a"), "--no-pdf")
    assert done.returncode == 2 and "could not connect to 127.0.0.1" in done.stdout
    wrong = labkit("audit", lab.dsn(), "--out", str(tmp_path / "b"), "--no-pdf", env={"PGPASSWORD": "wrong"})
    assert wrong.returncode == 2 and "could not log in as 'auditor'" in wrong.stdout
    assert "wrong" not in (tmp_path / "b" / "results.json").read_text().replace("wrong-host", "")


@pytest.mark.parametrize(("argv", "message"), [
    (["--profile", "nist"], "invalid choice: 'nist'"),
    (["--min-tls", "TLSv1.0"], "invalid choice: 'TLSv1.0'"),
    (["--root", "/nonexistent/root.crt"], "invalid --root: '/nonexistent/root.crt'"),
])
def test_usage_errors_exit_2_naming_the_value(lab: Lab, tmp_path: Path, argv: list[str], message: str) -> None:
    done = labkit("audit", lab.dsn(), *argv, "--out", str(tmp_path / "x"))
    assert done.returncode == 2 and message in done.stderr


def test_bad_targets_are_refused_before_anything_runs(tmp_path: Path) -> None:
    from labkit.errors import InvalidValue

    with pytest.raises(InvalidValue, match="a connection string naming host="):
        parse_target("dbname=postgres")
    with pytest.raises(InvalidValue, match="a single host"):
        parse_target("host=127.0.0.1,127.0.0.2 port=5432")
    with pytest.raises(InvalidValue) as info:
        parse_target("host=127.0.0.1 password=s3cret-value port")
    assert "s3cret-value" not in str(info.value)


def test_several_targets_run_concurrently_into_one_index(lab: Lab, tmp_path: Path) -> None:
    lab.hardened()
    listing = tmp_path / "targets.yaml"
    listing.write_text("targets:\n"
                       f"  - {{name: first, dsn: \"{lab.dsn()}\"}}\n"
                       f"  - {{name: second, dsn: \"{lab.dsn(sslmode='verify-full', sslrootcert=str(lab.pki.paths.root_crt))}\", "
                       f"root: \"{lab.pki.paths.combined_crt}\"}}\n"
                       f"  - \"{lab.dsn(user='plainrole')}\"\n")
    out = tmp_path / "many"
    done = labkit("audit", "-f", str(listing), "--root", str(lab.pki.paths.root_crt), "--out", str(out), "--no-pdf",
                  env={"PGPASSWORD": lab.password[AUDITOR]})
    # the third target logs in as plainrole with the auditor's password: a connection error, exit 2
    assert done.returncode == 2, done.stdout + done.stderr
    data = json.loads((out / "results.json").read_text())
    jsonschema.validate(data, outputs.schema())
    assert [t["name"] for t in data["targets"]] == ["first", "second", f"127.0.0.1:{lab.server.port}"]
    assert [t["status"] for t in data["targets"]] == ["ok", "ok", "error"]
    index = (out / "index.html").read_text()
    assert index.count('<table class="wide checks">') == 3
    suites = ET.parse(out / "junit.xml").getroot().findall("testsuite")
    assert len(suites) == 3 and suites[2].find("testcase/error") is not None
    report = audit([parse_target(lab.dsn(user=None), root=lab.pki.paths.root_crt)] * 2,
                   get_profile("guide"), parallel=2)
    assert [t.error for t in report.targets] == [None, None]

