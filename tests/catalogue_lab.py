"""The catalogue tests' shared set-up: a lab with the PKI and role passwords at hand, the checks every
reproduction makes, and the server-side failures themselves (:data:`SERVER_SCENARIOS`), so that the English
tests (tests/test_catalogue.py) and the Spanish ones (tests/test_catalogue_es.py) make the server fail in
exactly the same way.
"""
from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from labkit import catalogue
from labkit.ca import key_pem
from labkit.client import AttemptResult, attempt
from labkit.handshake import probe_lab
from labkit.pki import LabPKI
from labkit.roles import ensure_role
from labkit.server import LabServer, ReloadResult

ROLES = ("conssl", "reporter")


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI.ensure(tmp_path_factory.getbasetemp() / "labkit-pki")


_ROLE_CACHE: dict[str, dict[str, str]] = {}


def ensure_roles(lab: LabServer) -> dict[str, str]:
    """Roles conssl and reporter with generated passwords (kept in the workspace's secrets)."""
    key = str(lab.workspace.path)
    if key not in _ROLE_CACHE:
        _ROLE_CACHE[key] = {role: ensure_role(lab, role) for role in ROLES}
    return _ROLE_CACHE[key]


@dataclass
class Lab:
    """One lab server with the PKI and role passwords at hand, and shortcuts for the steps every test repeats."""

    server: LabServer
    pki: LabPKI
    passwords: dict[str, str]

    @property
    def major(self) -> int:
        return self.server.state.pg_major

    @property
    def p(self) -> Any:
        return self.pki.paths

    def deliver(self, name: str, source: Path, mode: int = 0o644) -> str:
        return self.server.deliver(name, source, mode)

    def configure(self, hba: list[str] | None = None, *, base: bool = True, **settings: Any) -> ReloadResult:
        """The lab server certificate (chain) and key, plus ``settings``; ``hba`` lesson rules; reload."""
        values: dict[str, Any] = {}
        if base:
            values = {"ssl_cert_file": self.deliver("server-chain.crt", self.p.server_chain_crt),
                      "ssl_key_file": self.deliver("server.key", self.p.server_key, 0o600)}
        values.update(settings)
        self.server.set_settings(values, replace=True)
        self.server.set_hba_rules(hba)
        return self.server.reload()

    def cert_auth(self, **settings: Any) -> ReloadResult:
        """Client-certificate authentication for the two lesson roles (the guide's Fase #2 layers 5-6)."""
        settings.setdefault("ssl_ca_file", self.deliver("combined.crt", self.p.combined_crt))
        result = self.configure(["hostssl all conssl,reporter 0.0.0.0/0 cert"], **settings)
        assert result.ok, result.log
        return result

    def attempt(self, **kwargs: Any) -> AttemptResult:
        return attempt(self.server, **kwargs)

    def client(self, crt: Path, key: Path, **kwargs: Any) -> AttemptResult:
        """conssl with a client certificate, verifying the server (verify-ca against the lab root)."""
        kwargs.setdefault("user", "conssl")
        kwargs.setdefault("password", None)
        return attempt(self.server, sslmode="verify-ca", sslrootcert=self.p.root_crt, sslcert=crt, sslkey=key,
                       **kwargs)



def refused(result: AttemptResult, key: str, log: str | None = None) -> None:
    """The attempt failed, was classified as ``key``, and (if given) the server logged ``log`` (a regex)."""
    context = f"\n client: {result.error_text}\n server log:\n{result.server_log}"
    assert not result.connected, f"expected a refusal ({key}) but it connected{context}"
    assert result.error_key == key, f"classified as {result.error_key!r}, expected {key!r}{context}"
    if log is not None:
        assert re.search(log, result.server_log), f"server log lacks /{log}/{context}"


def connected(result: AttemptResult, *, tls: bool = True) -> None:
    context = f"\n client: {result.error_text}\n server log:\n{result.server_log}"
    assert result.connected, f"the control did not connect{context}"
    assert result.error_key is None
    if tls:
        assert result.tls_version in ("TLSv1.2", "TLSv1.3"), result


def reload_classified(result: ReloadResult, key: str, log: str) -> None:
    """A reload reported a problem in its log, and the catalogue names it from the log alone."""
    assert re.search(log, result.log), f"reload log lacks /{log}/:\n{result.log}"
    text = result.log + "\n" + "\n".join(str(e) for e in result.hba_errors.get("error", []))
    entry = catalogue.classify("", text)
    assert entry is not None and entry.key == key, f"classified as {entry and entry.key!r}:\n{text}"



def encrypted_copy(source: Path, target: Path, passphrase: bytes) -> Path:
    """``source``'s key encrypted as the course encrypts keys (:func:`labkit.ca.key_pem`): the course's
    wrong passphrase fails it at the padding check, so OpenSSL says ``bad decrypt`` on every run."""
    key = serialization.load_pem_private_key(source.read_bytes(), None)
    target.write_bytes(key_pem(key, passphrase))
    target.chmod(0o600)
    return target


def empty_passphrase_passes_padding(key_file: Path) -> bool:
    """Whether an empty passphrase decrypts ``key_file`` to a valid padding (about one key in 256), as
    Debian's ``openssl pkey`` finds it: OpenSSL then reports its decoder's ``unsupported``, not ``bad
    decrypt``. cryptography cannot be asked, as it refuses an empty passphrase."""
    done = subprocess.run(["openssl", "pkey", "-noout", "-in", str(key_file), "-passin", "pass:"],
                          capture_output=True, text=True, timeout=30, check=False)
    return done.returncode != 0 and "bad decrypt" not in done.stderr



# ---------------------------------------------------------------------------------------------------------
# The server-side failures: each makes the server fail once and returns what both ends said
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Observed:
    """One failure as the two ends reported it: the client's words (empty for a reload), the server log, and
    the error column of pg_hba_file_rules (which PostgreSQL 15 writes in English whatever lc_messages says)."""

    client_text: str
    server_log: str
    view_errors: str = ""
    raw: AttemptResult | ReloadResult | None = None  # what the step returned, for the English tests' own checks

    @classmethod
    def of_attempt(cls, result: AttemptResult) -> Observed:
        assert not result.connected, "the failure did not happen: the attempt connected"
        return cls(result.error_text or "", result.server_log, raw=result)

    @classmethod
    def of_reload(cls, result: ReloadResult) -> Observed:
        assert not result.ok, f"the reload took, the failure did not happen:\n{result.log}"
        return cls("", result.log, "\n".join(str(e) for e in result.hba_errors.get("error", [])), raw=result)

    @property
    def reload(self) -> ReloadResult:
        assert isinstance(self.raw, ReloadResult), self.raw
        return self.raw

    @property
    def attempt(self) -> AttemptResult:
        assert isinstance(self.raw, AttemptResult), self.raw
        return self.raw

    @property
    def key(self) -> str | None:
        entry = catalogue.classify(self.client_text, self.server_log + "\n" + self.view_errors)
        return entry.key if entry else None


def _passphrase_wrong(lab: Lab) -> Observed:
    encrypted = lab.deliver("server-encrypted.key", lab.p.server_encrypted_key, 0o600)
    return Observed.of_reload(lab.configure(ssl_key_file=encrypted, ssl_passphrase_command="echo not-the-passphrase",
                                            ssl_passphrase_command_supports_reload=True))


def _legacy_tls(lab: Lab) -> Observed:
    lab.configure(ssl_min_protocol_version="TLSv1")
    result = probe_lab(lab.server, "TLSv1")
    assert result.accepted is False, result
    return Observed(result.error or "", result.server_log)


def _hba_attempt(lab: Lab, rule: str, **kwargs: Any) -> Observed:
    lab.configure([rule])
    return Observed.of_attempt(lab.attempt(user="reporter", password=lab.passwords["reporter"], **kwargs))


def _client_cert(lab: Lab, crt: Path, key: Path, *, user: str = "conssl", **settings: Any) -> Observed:
    lab.cert_auth(**settings)
    return Observed.of_attempt(lab.client(crt, key, user=user))


def _usermap_no_match(lab: Lab) -> Observed:
    """A cert rule with map=certmap whose only line maps conssl's certificate; reporter's certificate has none."""
    from labkit import hba

    hba.set_ident_maps(lab.server, {"certmap": [("conssl", "reporter")]})
    try:
        settings = {"ssl_ca_file": lab.deliver("combined.crt", lab.p.combined_crt)}
        assert lab.configure(["hostssl all conssl,reporter 0.0.0.0/0 cert map=certmap"], **settings).ok
        return Observed.of_attempt(lab.client(lab.p.client2_crt, lab.p.client2_key, user="reporter"))
    finally:
        hba.set_ident_maps(lab.server, None)


SERVER_SCENARIOS: dict[str, Callable[[Lab], Observed]] = {
    "protocol_range_invalid": lambda lab: Observed.of_reload(
        lab.configure(ssl_min_protocol_version="TLSv1.3", ssl_max_protocol_version="TLSv1.2")),
    "protocol_setting_invalid": lambda lab: Observed.of_reload(lab.configure(ssl_min_protocol_version="TLSv1.4")),
    "protocol_mismatch": lambda lab: (lab.configure(ssl_min_protocol_version="TLSv1.3"), Observed.of_attempt(
        lab.attempt(sslmode="require", ssl_max_protocol_version="TLSv1.2")))[1],
    "key_permissions": lambda lab: Observed.of_reload(
        lab.configure(ssl_key_file=lab.deliver("server-0640.key", lab.p.server_key, 0o640))),
    "key_bad_decrypt": _passphrase_wrong,
    "key_needs_passphrase_at_reload": lambda lab: Observed.of_reload(
        lab.configure(ssl_key_file=lab.deliver("server-encrypted.key", lab.p.server_encrypted_key, 0o600))),
    "key_mismatch": lambda lab: Observed.of_reload(
        lab.configure(ssl_key_file=lab.deliver("wrong-host.key", lab.p.wrong_host_key, 0o600))),
    "server_cert_file_unreadable": lambda lab: Observed.of_reload(lab.configure(
        ssl_cert_file="tls/no-such.crt", base=False, ssl_key_file=lab.deliver("server.key", lab.p.server_key, 0o600))),
    "clientcert_invalid": lambda lab: Observed.of_reload(
        lab.configure(["hostssl all conssl 0.0.0.0/0 cert clientcert=1"])),
    "hostssl_without_ssl": lambda lab: Observed.of_reload(
        lab.configure(["hostssl all reporter 0.0.0.0/0 scram-sha-256"], ssl=False)),
    "cert_auth_failed": lambda lab: _client_cert(lab, lab.p.client_crt, lab.p.client_key, user="reporter"),
    "client_cert_required": lambda lab: (lab.cert_auth(), Observed.of_attempt(lab.attempt(
        sslmode="verify-full", sslrootcert=lab.p.root_crt, user="conssl", password=None)))[1],
    "password_failed": lambda lab: (lab.configure(["host all conssl,reporter 0.0.0.0/0 scram-sha-256"]),
                                    Observed.of_attempt(lab.attempt(sslmode="require", user="reporter",
                                                                    password="not-the-password")))[1],
    "no_hba_no_encryption": lambda lab: _hba_attempt(lab, "hostssl all conssl,reporter 0.0.0.0/0 scram-sha-256",
                                                     sslmode="disable"),
    "no_hba_ssl": lambda lab: _hba_attempt(lab, "hostnossl all conssl,reporter 0.0.0.0/0 scram-sha-256",
                                           sslmode="require"),
    # the client's certificate judged by the server: on 15 the log says only "certificate verify failed", so
    # the client's words decide -- and must still decide when the server logs in Spanish
    "cert_revoked": lambda lab: _client_cert(lab, lab.p.revoked_client_crt, lab.p.revoked_client_key,
                                             ssl_crl_file=lab.deliver("combined.crl", lab.p.combined_crl)),
    "cert_expired": lambda lab: _client_cert(lab, lab.p.expired_client_crt, lab.p.expired_client_key),
    "unknown_ca": lambda lab: _client_cert(lab, lab.p.client_crt, lab.p.client_key,
                                           ssl_ca_file=lab.deliver("root.crt", lab.p.root_crt)),
    "usermap_no_match": _usermap_no_match,
    "direct_tls_unsupported": lambda lab: (lab.configure(), Observed.of_attempt(
        lab.attempt(sslmode="require", extra={"sslnegotiation": "direct"})))[1],  # servers before 17
    "setting_unknown": lambda lab: Observed.of_reload(lab.configure(ssl_tls13_ciphers="TLS_AES_256_GCM_SHA384")),
    "tls13_setting_invalid": lambda lab: Observed.of_reload(lab.configure(ssl_ecdh_curve="prime256v1:secp384r1")),
}
"""Server-side catalogue entries, each with the one step that makes a lab fail that way (run on a lab whose
configuration the caller resets). legacy_tls_seclevel fails only on OpenSSL 3 servers (PostgreSQL 15);
direct_tls_unsupported, setting_unknown and tls13_setting_invalid read as written only on servers before 17/18."""
SERVER_SCENARIOS_15: dict[str, Callable[[Lab], Observed]] = {**SERVER_SCENARIOS, "legacy_tls_seclevel": _legacy_tls}
