"""libpq's six sslmodes against four server states, and the TLS versions the server really accepts.

Each cell of the sslmode matrix is asserted from both ends: the client's outcome (connected, or which
catalogue key), and the server's view (``pg_stat_ssl``/``sslinfo`` say whether TLS is in use; the log shows
the refused first try of ``allow``/``prefer`` fallbacks). verify-* cells use the lab root as ``sslrootcert``
and the PKI's server certificate, set directly with ``set_settings``/``deliver`` (the guide's first layer);
failing controls swap in the wrong-host certificate, a foreign root, or no root at all.

The version table is measured with :mod:`labkit.handshake`, because libpq 18 (OpenSSL 3) cannot offer
TLS 1.0/1.1 at all.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from labkit.client import AttemptResult, attempt
from labkit.tables import attempts_frame
from labkit.pki import LabPKI
from labkit.server import LabServer
from labkit.handshake import VERSIONS, probe_lab, probe_matrix

MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
PLAIN, TLS = "no TLS", "TLS"
RULE = "all reporter 0.0.0.0/0 scram-sha-256"

# state -> (settings, pg_hba rules, expected outcome per sslmode: PLAIN, TLS or a catalogue key)
MATRIX: dict[str, tuple[dict[str, Any], list[str], dict[str, str]]] = {
    "ssl off, host rule": ({"ssl": False}, [f"host {RULE}"], {
        "disable": PLAIN, "allow": PLAIN, "prefer": PLAIN,
        "require": "server_no_ssl", "verify-ca": "server_no_ssl", "verify-full": "server_no_ssl"}),
    "ssl on, host rule": ({}, [f"host {RULE}"], {
        "disable": PLAIN, "allow": PLAIN, "prefer": TLS, "require": TLS, "verify-ca": TLS, "verify-full": TLS}),
    "hostssl only": ({}, [f"hostssl {RULE}"], {
        "disable": "no_hba_no_encryption", "allow": TLS, "prefer": TLS, "require": TLS, "verify-ca": TLS,
        "verify-full": TLS}),
    "hostnossl only": ({}, [f"hostnossl {RULE}"], {
        "disable": PLAIN, "allow": PLAIN, "prefer": PLAIN,
        "require": "no_hba_ssl", "verify-ca": "no_hba_ssl", "verify-full": "no_hba_ssl"}),
}


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI.ensure(tmp_path_factory.getbasetemp() / "labkit-pki")


def reporter_password(lab: LabServer) -> str:
    """The lesson role ``reporter`` with a generated password (the same secret the other test modules use)."""
    password = lab.workspace.secret("role-reporter-password")
    verb = "ALTER" if lab.execute("SELECT 1 FROM pg_roles WHERE rolname = 'reporter'") else "CREATE"
    lab.execute(sql.SQL(verb + " ROLE reporter LOGIN PASSWORD {}").format(sql.Literal(password)))
    return password


def serve_certificate(lab: LabServer, crt: Path, key: Path, hba: list[str] | None = None,
                      **settings: Any) -> None:
    """The guide's first layer: ssl = on with this certificate and key (plus ``settings``), then reload."""
    lab.set_settings({"ssl_cert_file": lab.deliver("lesson.crt", crt, 0o644),
                      "ssl_key_file": lab.deliver("lesson.key", key, 0o600), **settings}, replace=True)
    lab.set_hba_rules(hba)
    result = lab.reload()
    assert result.ok or settings.get("ssl") is False, result.log


def outcome(result: AttemptResult) -> str:
    if result.connected:
        return TLS if result.ssl else PLAIN
    return result.error_key or f"unclassified: {result.error_text}"


@pytest.mark.parametrize("state", list(MATRIX))
def test_sslmode_matrix(any_lab: LabServer, pki: LabPKI, state: str) -> None:
    settings, hba, expected = MATRIX[state]
    password = reporter_password(any_lab)
    serve_certificate(any_lab, pki.paths.server_chain_crt, pki.paths.server_key, hba, **settings)
    results = [attempt(any_lab, label=mode, sslmode=mode, user="reporter", password=password,
                       sslrootcert=pki.paths.root_crt if mode.startswith("verify") else None) for mode in MODES]
    observed = {r.label: outcome(r) for r in results}
    table = attempts_frame(results)[["label", "connected", "outcome", "tls_version", "error_key"]].to_string()
    assert observed == expected, f"{state} on PostgreSQL {any_lab.state.pg_major}:\n{table}"
    for r in results:
        if r.connected:  # the server's own view agrees with the client's
            assert r.pg_stat_ssl["ssl"] is r.ssl and r.ssl_is_used is r.ssl, r
            assert r.current_user == "reporter"
            assert (r.tls_version in ("TLSv1.2", "TLSv1.3")) is r.ssl
    by_mode = {r.label: r for r in results}
    if state == "hostssl only":  # allow tried plain first, was refused, then retried with TLS
        assert "no encryption" in by_mode["allow"].server_log
        assert "connection authorized" in by_mode["allow"].server_log
        assert "no encryption" not in by_mode["prefer"].server_log
    if state == "hostnossl only":  # prefer tried TLS first, was refused, then retried without
        assert "SSL encryption" in by_mode["prefer"].server_log
        assert "SSL encryption" not in by_mode["allow"].server_log


def test_verify_modes_failing_controls(any_lab: LabServer, pki: LabPKI) -> None:
    """What verify-ca and verify-full each check, shown by the certificate or CA that breaks them."""
    p = pki.paths
    serve_certificate(any_lab, p.server_chain_crt, p.server_key)
    full_localhost = attempt(any_lab, sslmode="verify-full", host="localhost", sslrootcert=p.root_crt)
    assert full_localhost.connected and full_localhost.ssl, full_localhost.error_text  # SAN has localhost
    assert attempt(any_lab, sslmode="verify-ca", sslrootcert=p.rogue_ca_crt).error_key == "server_cert_untrusted"
    assert attempt(any_lab, sslmode="verify-full").error_key == "root_cert_missing"

    serve_certificate(any_lab, p.wrong_host_crt, p.wrong_host_key)
    mismatch = attempt(any_lab, sslmode="verify-full", host="localhost", sslrootcert=p.combined_crt)
    assert mismatch.error_key == "hostname_mismatch", mismatch.error_text
    assert 'does not match host name "localhost"' in mismatch.error_text
    assert attempt(any_lab, sslmode="verify-ca", sslrootcert=p.combined_crt).connected  # the CA alone is fine
    assert attempt(any_lab, sslmode="require").connected  # and require checks nothing

    # the server sends only its leaf: a client trusting only the root cannot build the chain ...
    serve_certificate(any_lab, p.server_crt, p.server_key)
    leaf_only = attempt(any_lab, sslmode="verify-full", sslrootcert=p.root_crt)
    assert leaf_only.error_key == "server_cert_untrusted", leaf_only.error_text
    # ... unless the client holds root + intermediate (the guide's combined.crt)
    assert attempt(any_lab, sslmode="verify-full", sslrootcert=p.combined_crt).connected
    # a certificate issued directly by the root needs no intermediate at all
    serve_certificate(any_lab, p.server_by_root_crt, p.server_by_root_key)
    assert attempt(any_lab, sslmode="verify-full", sslrootcert=p.root_crt).connected


# ---------------------------------------------------------------------------------------------------------
# TLS versions and ciphers, measured with the raw probe
# ---------------------------------------------------------------------------------------------------------


def test_version_table_default_and_guide_layer(any_lab: LabServer, pki: LabPKI) -> None:
    serve_certificate(any_lab, pki.paths.server_chain_crt, pki.paths.server_key)
    frame = probe_matrix(any_lab)
    assert list(frame["version_asked"]) == list(VERSIONS)
    assert list(frame["result"]) == ["refused", "refused", "accepted", "accepted"], frame.to_string()
    assert all("unsupported protocol" in log for log in frame["server_log"][:2])
    assert list(frame["negotiated_version"][2:]) == ["TLSv1.2", "TLSv1.3"]
    # the guide's second layer, then a stricter minimum
    serve_certificate(any_lab, pki.paths.server_chain_crt, pki.paths.server_key,
                      ssl_min_protocol_version="TLSv1.3", ssl_max_protocol_version="TLSv1.3")
    assert list(probe_matrix(any_lab)["result"]) == ["refused", "refused", "refused", "accepted"]


def test_cipher_restriction(any_lab: LabServer, pki: LabPKI) -> None:
    serve_certificate(any_lab, pki.paths.server_chain_crt, pki.paths.server_key,
                      ssl_ciphers="ECDHE-ECDSA-AES256-GCM-SHA384")
    allowed = probe_lab(any_lab, "TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384")
    assert allowed.accepted and allowed.cipher == "ECDHE-ECDSA-AES256-GCM-SHA384", allowed
    other = probe_lab(any_lab, "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256")
    assert other.accepted is False and "handshake failure" in (other.error or ""), other
    assert "no shared cipher" in other.server_log


def test_probe_reports_what_it_cannot_ask(any_lab: LabServer, pki: LabPKI) -> None:
    serve_certificate(any_lab, pki.paths.server_chain_crt, pki.paths.server_key)
    cannot = probe_lab(any_lab, "TLSv1.2", "NO-SUCH-CIPHER")
    assert cannot.accepted is None and cannot.result == "client cannot offer", cannot
    assert probe_lab(any_lab, "TLSv1.2").accepted  # control
    serve_certificate(any_lab, pki.paths.server_chain_crt, pki.paths.server_key, ssl=False)
    assert set(probe_matrix(any_lab)["result"]) == {"server has no SSL"}


# ---------------------------------------------------------------------------------------------------------
# "server verified" measured, and libpq's root-file rule (lesson 23)
# ---------------------------------------------------------------------------------------------------------


def test_server_verified_is_measured_against_an_untrusted_root(any_lab: LabServer, pki: LabPKI) -> None:
    from labkit import roles, scenarios

    roles.ensure_role(any_lab, "conssl")
    frame, results = scenarios.sslmode_matrix(any_lab, pki, states=("ssl on + host", "hostssl only"),
                                              sslrootcert=pki.paths.combined_crt,
                                              untrusted_root=pki.paths.rogue_ca_crt)
    verified = frame.set_index(["server state", "sslmode"])["server verified"]
    # a root file makes every TLS attempt check the chain; prefer/allow then retry in plain text
    assert verified["ssl on + host"].tolist() == [False, False, False, True, True, True], frame.to_string()
    assert verified["hostssl only"].tolist() == [False, True, True, True, True, True], frame.to_string()
    impostor = frame.set_index(["server state", "sslmode"])["with untrusted root"]
    assert impostor["ssl on + host", "prefer"] == "plaintext"
    assert impostor["ssl on + host", "require"] == "server_cert_untrusted"
    assert len(results) == 2 * len(frame)
    # control: without an untrusted root nothing is measured, and nothing is derived from the mode's name
    unmeasured, _ = scenarios.sslmode_matrix(any_lab, pki, states=("ssl on + host",),
                                             sslrootcert=pki.paths.combined_crt)
    assert unmeasured["server verified"].isna().all()
    assert scenarios.mode_ranking(unmeasured)["server verified"].tolist() == [0] * 6


def test_root_file_makes_require_verify_and_prefer_fall_back(any_lab: LabServer, pki: LabPKI) -> None:
    from labkit import roles, scenarios

    roles.ensure_role(any_lab, "conssl")
    rule = scenarios.root_file_rule(any_lab, pki).set_index(["sslmode", "sslrootcert"])
    none, bad = "none", "rogue-ca.crt (does not trust it)"
    assert rule.loc[("require", none), "encrypted"]  # no root file: any certificate is fine
    assert rule.loc[("require", bad), "outcome"] == "server_cert_untrusted"
    assert "certificate verify failed" in rule.loc[("require", bad), "client says"]
    assert rule.loc[("prefer", bad), "connected"] and not rule.loc[("prefer", bad), "encrypted"]
    assert rule.loc[("verify-ca", none), "outcome"] == "root_cert_missing"
    assert any_lab.settings == {}  # the lab is left as it was found
