"""The six server layers against real servers (PostgreSQL 16 / OpenSSL 1.1.1 and 15 / OpenSSL 3).

Each layer test applies the layer and then *connects* (psycopg, as a course participant would) to show the
server really behaves accordingly, next to a control attempt that shows the opposite without the layer.
Error texts asserted here are the ones measured on both servers; where the two differ the test says so.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
import pytest

from labkit import hba, layers as L, transaction as T
from labkit import guide
from labkit.errors import InvalidValue
from labkit.roles import ensure_role, role_password
from labkit.pki import LabPKI
from labkit.server import LabServer

from .helpers import searchable_tmp, wait_for_log

ROLES = ("conssl", "reporter")


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    """An ECDSA lab PKI (the default key type), shared by the module: making one costs ~0.1 s."""
    return LabPKI.ensure(tmp_path_factory.mktemp("layers-pki"), client_roles=ROLES)


class Roles:
    """Generated passwords for conssl/reporter; the roles are created once on each lab that asks."""

    def __init__(self) -> None:
        self.labs: list[LabServer] = []

    def ensure(self, lab: LabServer) -> None:
        if lab in self.labs:
            return
        for role in ROLES:
            ensure_role(lab, role)
        self.labs.append(lab)

    def drop_all(self) -> None:
        for lab in self.labs:
            for role in ROLES:
                lab.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture(scope="module")
def roles() -> Iterator[Roles]:
    made = Roles()
    yield made
    made.drop_all()


@pytest.fixture
def lab(any_lab: LabServer, roles: Roles) -> LabServer:
    roles.ensure(any_lab)
    return any_lab


# ------------------------------------------------------------------------------------------------ helpers


@dataclass
class Outcome:
    ok: bool
    error: str = ""
    version: str | None = None
    cipher: str | None = None
    user: str | None = None


def attempt(lab: LabServer, roles: Roles, user: str = "conssl", **params: Any) -> Outcome:
    """One client connection; what the server said, or which TLS version and cipher were used."""
    params.setdefault("password", role_password(lab, user) if user in ROLES else "no-password")
    try:
        with psycopg.connect(**lab.conninfo(user=user, **params)) as conn:
            row = conn.execute("SELECT s.version, s.cipher, current_user FROM pg_stat_ssl s "
                               "WHERE s.pid = pg_backend_pid()").fetchone()
    except psycopg.OperationalError as exc:
        return Outcome(False, str(exc).strip())
    assert row is not None
    return Outcome(True, "", row[0], row[1], row[2])


def verify_full(pki: LabPKI, rootcert: Path | None = None, cert: Path | None = None,
                key: Path | None = None) -> dict[str, str]:
    params = {"sslmode": "verify-full", "sslrootcert": str(rootcert or pki.paths.combined_crt)}
    if cert is not None:
        params.update(sslcert=str(cert), sslkey=str(key or pki.paths.client_key))
    return params


def must(result: T.ApplyResult) -> T.ApplyResult:
    assert result.ok, result.summary().to_string()
    assert not result.rolled_back
    return result


def cert_auth(pki: LabPKI) -> list[L.Layer]:
    """L1 + L6 + cert-only pg_hba: the setting in which client certificates decide."""
    return [L.layer_ssl_on(pki), L.layer_ca(pki), L.layer_hostssl("cert", ROLES, "verify-full")]


# ------------------------------------------------------------------------------------------------ L1


def test_l1_server_certificate_is_verifiable(lab: LabServer, roles: Roles, pki: LabPKI) -> None:
    before = attempt(lab, roles, **verify_full(pki))
    assert not before.ok and "certificate verify failed" in before.error  # bootstrap cert: not from the lab CA

    result = must(T.apply(lab, L.layer_ssl_on(pki)))
    assert result.action == "reload" and result.layers == ["L1"]
    assert T.applied(lab) == ["L1"]
    after = attempt(lab, roles, **verify_full(pki))
    assert after.ok and after.version == "TLSv1.3", after.error
    # The leaf alone does not reach the root: a client trusting only root.crt cannot build the chain ...
    assert "certificate verify failed" in attempt(lab, roles, **verify_full(pki, pki.paths.root_crt)).error
    # ... unless the server sends the intermediate along.
    must(T.apply(lab, L.layer_ssl_on(pki, "server_chain")))
    assert attempt(lab, roles, **verify_full(pki, pki.paths.root_crt)).ok
    # A certificate for another host fails verify-full but passes verify-ca.
    must(T.apply(lab, L.layer_ssl_on(pki, "wrong_host")))
    wrong = attempt(lab, roles, **verify_full(pki))
    assert "does not match host name" in wrong.error
    assert attempt(lab, roles, sslmode="verify-ca", sslrootcert=str(pki.paths.combined_crt)).ok


# ------------------------------------------------------------------------------------------------ L2


def test_l2_protocol_floor_refuses_tls12(lab: LabServer, roles: Roles, pki: LabPKI) -> None:
    must(T.apply(lab, L.layer_ssl_on(pki)))
    control = attempt(lab, roles, sslmode="require", ssl_max_protocol_version="TLSv1.2")
    assert control.ok and control.version == "TLSv1.2"

    must(T.apply(lab, L.layer_protocols(min="TLSv1.3")))
    old = attempt(lab, roles, sslmode="require", ssl_max_protocol_version="TLSv1.2")
    assert not old.ok and "protocol version" in old.error, old.error
    new = attempt(lab, roles, sslmode="require")
    assert new.ok and new.version == "TLSv1.3"
    assert lab.show("ssl_min_protocol_version") == "TLSv1.3"


# ------------------------------------------------------------------------------------------------ L3


def test_l3_hostssl_refuses_unencrypted(lab: LabServer, roles: Roles) -> None:
    assert attempt(lab, roles, sslmode="disable").ok  # control: the default rule is "host"

    must(T.apply(lab, L.layer_hostssl()))
    plain = attempt(lab, roles, sslmode="disable")
    assert not plain.ok
    assert "no pg_hba.conf entry" in plain.error and "no encryption" in plain.error
    tls = attempt(lab, roles, sslmode="require")
    assert tls.ok and tls.version is not None


def test_l3_cert_verify_full_matches_cn_to_user(lab: LabServer, roles: Roles, pki: LabPKI) -> None:
    must(T.apply(lab, *cert_auth(pki)))
    p = pki.paths
    good = attempt(lab, roles, password="", **verify_full(pki, cert=p.client_crt, key=p.client_key))
    assert good.ok and good.user == "conssl", good.error
    wrong_user = attempt(lab, roles, user="reporter", password="",
                         **verify_full(pki, cert=p.client_crt, key=p.client_key))
    assert 'certificate authentication failed for user "reporter"' in wrong_user.error
    reporter = attempt(lab, roles, user="reporter", password="",
                       **verify_full(pki, cert=p.client2_crt, key=p.client2_key))
    assert reporter.ok and reporter.user == "reporter", reporter.error
    no_cert = attempt(lab, roles, **verify_full(pki))
    assert "connection requires a valid client certificate" in no_cert.error


# ------------------------------------------------------------------------------------------------ L4


def test_l4_cipher_list_governs_tls12_only(lab: LabServer, roles: Roles, pki: LabPKI) -> None:
    assert pki.key_type == "ecdsa-p256"  # the cipher below needs an ECDSA server key
    must(T.apply(lab, L.layer_ssl_on(pki), L.layer_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")))
    tls12 = attempt(lab, roles, sslmode="require", ssl_max_protocol_version="TLSv1.2")
    assert tls12.ok and (tls12.version, tls12.cipher) == ("TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256")
    tls13 = attempt(lab, roles, sslmode="require")
    assert tls13.ok and tls13.version == "TLSv1.3" and str(tls13.cipher).startswith("TLS_")

    # Control: a list with only an RSA suite leaves an ECDSA server nothing to offer over TLS 1.2.
    must(T.apply(lab, L.layer_ciphers("ECDHE-RSA-AES128-GCM-SHA256")))
    refused = attempt(lab, roles, sslmode="require", ssl_max_protocol_version="TLSv1.2")
    assert not refused.ok and "handshake failure" in refused.error, refused.error
    assert attempt(lab, roles, sslmode="require").version == "TLSv1.3"


# ------------------------------------------------------------------------------------------------ L5


def test_l5_crl_refuses_revoked_client(lab: LabServer, roles: Roles, pki: LabPKI) -> None:
    p = pki.paths
    good = verify_full(pki, cert=p.client_crt, key=p.client_key)
    revoked = verify_full(pki, cert=p.revoked_client_crt, key=p.revoked_client_key)
    must(T.apply(lab, *cert_auth(pki)))
    assert attempt(lab, roles, **revoked).ok  # control: without a CRL a revoked certificate still works

    for source in ("combined", "dir"):
        must(T.apply(lab, L.layer_crl(pki, source)))
        refused = attempt(lab, roles, **revoked)
        assert not refused.ok and "certificate revoked" in refused.error, (source, refused.error)
        assert attempt(lab, roles, **good).ok, source

    mark = lab.log_mark()
    must(T.apply(lab, L.layer_crl(pki, "intermediate_only")))  # the server accepts it at reload ...
    broken = attempt(lab, roles, **good)  # ... but every client certificate now fails
    assert not broken.ok and "unknown ca" in broken.error, broken.error
    # The backend logs after the client already has its alert: wait for the line instead of racing it.
    wanted = ("verification failed at depth 1: unable to get certificate CRL" if lab.state.pg_major >= 16
              else "could not accept SSL connection: certificate verify failed")  # 16 added the depth detail
    assert wanted in wait_for_log(lab, mark, wanted)


# ------------------------------------------------------------------------------------------------ L6


def test_l6_root_only_ca_file_is_unknown_ca_for_leaf_only_client(lab: LabServer, roles: Roles, pki: LabPKI) -> None:
    p = pki.paths
    must(T.apply(lab, L.layer_ssl_on(pki, "server_chain"), L.layer_ca(pki, "root_only"),
                 L.layer_hostssl("cert", ROLES, "verify-full")))
    # The client trusts only root.crt, so it has no intermediate to send along with its leaf.
    leaf_only = attempt(lab, roles, password="", **verify_full(pki, p.root_crt, p.client_crt, p.client_key))
    assert not leaf_only.ok and "tlsv1 alert unknown ca" in leaf_only.error, leaf_only.error
    # A client that sends leaf + intermediate is verified against the root alone.
    chained = attempt(lab, roles, password="", **verify_full(pki, p.root_crt, p.client_chain_crt, p.client_key))
    assert chained.ok, chained.error
    # Measured: with sslrootcert=combined.crt libpq (OpenSSL) completes the chain it sends from its own
    # trust store, so the same leaf-only file works -- the guide's "Opción 2".
    assert attempt(lab, roles, password="", **verify_full(pki, p.combined_crt, p.client_crt, p.client_key)).ok

    must(T.apply(lab, L.layer_ca(pki, "combined")))
    assert attempt(lab, roles, password="", **verify_full(pki, p.root_crt, p.client_crt, p.client_key)).ok


# ------------------------------------------------------------------------------------------------ validation


FACTORY_MISTAKES = [
    (lambda pki: L.layer_protocols("TLSv1.0"), "'TLSv1.0'", "TLSv1"),
    (lambda pki: L.layer_protocols("TLSv1.3", "TLSv1.2"), "'TLSv1.3'", "invalid SSL protocol version range"),
    (lambda pki: L.layer_protocols(max="TLSv1.4"), "'TLSv1.4'", "TLSv1.3"),
    (lambda pki: L.layer_hostssl(method="md4"), "'md4'", "scram-sha-256"),
    (lambda pki: L.layer_hostssl(clientcert="maybe"), "'maybe'", "verify-full"),
    (lambda pki: L.layer_hostssl(address="127.0.0.1"), "'127.0.0.1'", "CIDR"),
    (lambda pki: L.layer_hostssl(users=("con ssl",)), "'con ssl'", "one role name"),
    # shapes that would widen the rule or add a line: refused even with unchecked=True
    (lambda pki: L.layer_hostssl(users=("conssl,postgres",), unchecked=True), "'conssl,postgres'", "commas"),
    (lambda pki: L.layer_hostssl(users=("conssl\nhost all all 0.0.0.0/0 trust",)), "conssl\\n", "one role"),
    (lambda pki: L.layer_hostssl(database="@/etc/passwd", unchecked=True), "'@/etc/passwd'", "database name"),
    (lambda pki: L.layer_hostssl(method="trust\nhost all all 0.0.0.0/0 trust", unchecked=True), "trust\\n",
     "method"),
    (lambda pki: L.layer_hostssl(extra_rules=("host all all 0.0.0.0/0 trust\nhost all all ::/0 trust",)),
     "trust\\nhost", "one pg_hba.conf line"),
    (lambda pki: L.layer_hostssl(extra_rules=('host "all" all 0.0.0.0/0 trust',)), "'host \"all\"", "@file"),
    (lambda pki: L.layer_hostssl(clientcert="verify-full map=x", unchecked=True), "verify-full map", "name=value"),
    (lambda pki: L.layer_hostssl(clientcert="1", pg_major=16), "'1'", "PostgreSQL 16"),
    (lambda pki: L.layer_ciphers("NOPE"), "'NOPE'", "selects at least one cipher"),
    (lambda pki: L.layer_ciphers("TLS_AES_128_GCM_SHA256"), "'TLS_AES_128_GCM_SHA256'", "TLS 1.3"),
    (lambda pki: L.layer_crl(pki, "both"), "'both'", "'intermediate_only'"),
    (lambda pki: L.layer_ca(pki, "everything"), "'everything'", "'root_only'"),
    (lambda pki: L.layer_ssl_on(pki, "client"), "'client'", "'server_chain'"),
    (lambda pki: L.layer_ssl_on(pki, Path("/nonexistent/server.crt")), "/nonexistent/server.crt", "unchecked=True"),
]


@pytest.mark.parametrize("make, value, allowed", FACTORY_MISTAKES,
                         ids=[f"mistake{i}" for i in range(len(FACTORY_MISTAKES))])
def test_factories_name_the_bad_value(pki: LabPKI, make: Any, value: str, allowed: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        make(pki)
    assert value in str(caught.value) and allowed in str(caught.value)


def test_bad_inputs_change_nothing_on_the_server(lab: LabServer, roles: Roles, pki: LabPKI) -> None:
    must(T.apply(lab, L.layer_ssl_on(pki)))
    settings, hba, conf = lab.settings, lab.hba_text(), lab.lesson_conf_text()
    major = lab.state.pg_major
    mistakes = [
        (L.layer_hostssl(clientcert="1"), f"PostgreSQL {major}"),  # valid only before 14: known at apply time
        (L.layer_hostssl("cert", clientcert="verify-ca"), "'verify-ca'"),
        (L.Layer("X1", "missing file", settings={"ssl_ca_file": L.TlsFile("gone.crt")},
                 files={"gone.crt": Path("/nonexistent/gone.crt")}), "/nonexistent/gone.crt"),
        (L.Layer("X2", "unknown setting", settings={"ssl_no_such_thing": 1}), "'ssl_no_such_thing'"),
    ]
    for layer, named in mistakes:
        with pytest.raises(InvalidValue) as caught:
            T.apply(lab, L.layer_protocols(), layer)
        assert named in str(caught.value)
    assert (lab.settings, lab.hba_text(), lab.lesson_conf_text()) == (settings, hba, conf)
    assert T.applied(lab) == ["L1"]


def test_rejected_layer_is_rolled_back_and_server_keeps_serving(lab: LabServer, roles: Roles, pki: LabPKI) -> None:
    must(T.apply(lab, L.layer_ssl_on(pki)))
    settings, hba_rules, conf = lab.settings, lab.state.hba_rules, lab.lesson_conf_text()

    bad_hba = T.apply(lab, L.layer_hostssl(clientcert="1", unchecked=True))
    assert not bad_hba.ok and bad_hba.rolled_back
    assert not bad_hba.hba_errors.empty  # the view's row is all NULL on 15/16: caught as "not understood"
    assert any('invalid value for clientcert: "1"' in line for line in bad_hba.problems)
    assert any("pg_hba.conf was not reloaded" in line for line in bad_hba.problems)

    bad_cert = T.apply(lab, L.layer_ssl_on(pki, Path("/nonexistent/server.crt"), key="server", unchecked=True))
    assert not bad_cert.ok and bad_cert.rolled_back
    assert any('could not load server certificate file "/nonexistent/server.crt"' in x for x in bad_cert.problems)
    assert any("SSL configuration was not reloaded" in line for line in bad_cert.problems)

    bad_range = T.apply(lab, L.layer_protocols("TLSv1.3", "TLSv1.2", unchecked=True))
    assert not bad_range.ok and any("could not set SSL protocol version range" in x for x in bad_range.problems)
    assert "rolled back" in bad_range.summary()["detail"].iloc[0]

    assert (lab.settings, lab.state.hba_rules, lab.lesson_conf_text()) == (settings, hba_rules, conf)
    assert T.applied(lab) == ["L1"]
    assert lab.reload().ok  # the files on disk are sound again, not just the server's memory
    assert attempt(lab, roles, **verify_full(pki)).ok  # still L1's certificate
    assert attempt(lab, roles, sslmode="disable").ok  # still the default pg_hba rule


# ------------------------------------------------------------------------------------------------ pg_hba


def test_hba_first_match_shows_guide_cert_line_is_never_reached(lab: LabServer, roles: Roles, pki: LabPKI) -> None:
    guide_l3 = L.guide_layers(pki)[2]
    assert guide_l3.hba_rules == guide.HBA_RULES
    must(T.apply(lab, L.layer_ssl_on(pki), L.layer_ca(pki), guide_l3))
    frame = hba.first_match(lab, conn_type="hostssl", database="postgres", user="conssl")
    lesson = frame[frame["type"] == "hostssl"]
    assert list(lesson["auth_method"]) == ["scram-sha-256", "cert"]
    assert frame.attrs["first_match_line"] == int(lesson["line_number"].iloc[0])
    assert lesson["verdict"].iloc[0].startswith("FIRST MATCH")
    assert lesson["verdict"].iloc[1] == hba.NEVER_REACHED
    # And the server agrees: a valid client certificate does not spare conssl the password.
    p = pki.paths
    no_password = attempt(lab, roles, password="wrong", **verify_full(pki, cert=p.client_crt, key=p.client_key))
    assert 'password authentication failed for user "conssl"' in no_password.error

    plain = hba.first_match(lab, conn_type="hostnossl", database="postgres", user="conssl")
    assert plain.attrs["first_match_line"] is None and "no encryption" in plain.attrs["outcome"]
    with pytest.raises(InvalidValue, match="'hostgss'"):
        hba.first_match(lab, conn_type="hostgss", database="postgres", user="conssl")


# ------------------------------------------------------------------------------------------------ whole guide


def test_guide_layers_apply_track_and_revert(lab: LabServer, roles: Roles, pki: LabPKI) -> None:
    layers = L.guide_layers(pki)
    table = L.describe(layers)
    assert list(table["key"]) == ["L1", "L2", "L3", "L4", "L5", "L6"]
    assert set(table["needs"]) == {"reload"} and T.server_needs(lab, *layers) == "reload"

    must(T.apply(lab, *layers))
    assert T.applied(lab) == ["L1", "L2", "L3", "L4", "L5", "L6"]
    guide_client = attempt(lab, roles, **verify_full(pki))  # Fase #2, "segunda capa nivel usuario"
    assert guide_client.ok and (guide_client.version, guide_client.cipher) == ("TLSv1.3", "TLS_AES_256_GCM_SHA384")
    assert not attempt(lab, roles, sslmode="disable").ok

    must(T.revert(lab, "L3"))
    assert lab.state.hba_rules is None and "L3" not in T.applied(lab)
    assert attempt(lab, roles, sslmode="disable").ok  # back to the default "host" rule

    must(T.revert(lab, *[layer for layer in layers if layer.key != "L3"]))
    assert lab.settings == {} and T.applied(lab) == []

    # revert restores what was there before apply, not just "nothing".
    lab.set_settings({"ssl_min_protocol_version": "TLSv1.3"})
    assert lab.reload().ok
    must(T.apply(lab, L.layer_protocols("TLSv1.2")))
    assert lab.show("ssl_min_protocol_version") == "TLSv1.2"
    must(T.revert(lab, "L2"))
    assert lab.show("ssl_min_protocol_version") == "TLSv1.3"
    assert T.applied(lab) == []


def test_postmaster_setting_takes_a_restart(clean_lab16: LabServer) -> None:
    lab = clean_lab16
    layer = L.Layer("X-restart", "more connections", settings={"max_connections": 145})
    assert T.server_needs(lab, layer) == "restart"
    result = must(T.apply(lab, layer))
    assert result.action == "restart" and lab.show("max_connections") == "145"
    back = must(T.revert(lab, layer))
    assert back.action == "restart" and lab.show("max_connections") == str(lab.state.max_connections)


def test_passphrase_script() -> None:
    script = L.passphrase_script("pp.txt").decode()
    assert script.startswith("#!/bin/sh\n") and '"$(dirname "$0")/pp.txt"' in script
    with pytest.raises(InvalidValue, match="passphrase_file"):
        L.passphrase_script("../x; rm -rf /")


def test_passphrase_script_runs(tmp_path) -> None:
    import subprocess

    (tmp_path / "passphrase.txt").write_text("s3cret\n")
    script = tmp_path / "get.sh"
    script.write_bytes(L.passphrase_script())
    script.chmod(0o700)
    assert subprocess.run([str(script)], capture_output=True, text=True, check=True).stdout == "s3cret\n"


def test_file_replaced_puts_the_file_back(clean_lab16: LabServer, pki: LabPKI) -> None:
    lab = clean_lab16
    must(T.apply(lab, L.layer_ssl_on(pki)))
    good = T.server_file(lab, "server.key")
    with T.file_replaced(lab, "server.key", pki.paths.server2_key, 0o600) as result:
        assert not result.ok and "key values mismatch" in result.log
    assert T.server_file(lab, "server.key") == good and lab.reload().ok
    assert T.server_file(lab, "no-such-file") is None


def test_checked_restart_reports_instead_of_raising(tmp_path_factory: pytest.TempPathFactory) -> None:
    """On a lab of its own, on a port of its own: while it is down, nobody else may take the shared labs' port."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workspace = searchable_tmp(tmp_path_factory.mktemp("restart-lab"))
    lab = LabServer.up(workspace, backend="local", pg_version=16, port=port)
    try:
        _checked_restart_cases(lab)
    finally:
        lab.down()


def _checked_restart_cases(lab: LabServer) -> None:
    fine = T.checked_restart(lab, timeout=30)
    assert fine.ok and fine.running and fine.error is None
    lab.set_settings({"ssl_cert_file": "/nonexistent/server.crt"})
    broken = T.checked_restart(lab, timeout=10)
    assert not broken.ok and not broken.running and broken.error is not None
    assert any("could not load server certificate file" in line for line in broken.log)
    lab.reset_config()
    lab.start()
    assert lab.reload().ok and T.checked_restart(lab, timeout=30).ok


def test_files_written_together_reach_the_server_even_when_the_block_raises(clean_lab16: LabServer) -> None:
    """Gathered writes (one backend call) keep the meaning of single ones: a read inside sees what was
    written before it, and what was written before an error is on disk after it, as the state records."""
    lab = clean_lab16
    rule = "hostssl all all 127.0.0.1/32 scram-sha-256"
    with pytest.raises(RuntimeError, match="stop here"), lab.files_written_together():
        lab.set_hba_rules([rule])
        assert rule in lab.hba_text()  # the read writes what is pending first
        lab.set_settings({"ssl_min_protocol_version": "TLSv1.3"})
        raise RuntimeError("stop here")
    assert lab.settings == {"ssl_min_protocol_version": "'TLSv1.3'"}
    assert "ssl_min_protocol_version = 'TLSv1.3'" in lab.lesson_conf_text()
    assert lab.reload().ok and lab.show("ssl_min_protocol_version") == "TLSv1.3"
    lab.reset_config()
    assert lab.reload().ok and lab.show("ssl_min_protocol_version") == "TLSv1.2"


def test_ident_maps_written_after_a_reset_in_one_block_are_the_ones_on_disk(clean_lab16: LabServer) -> None:
    """pg_ident.conf goes through the lab's gathered writes like every other file: a reset and then maps
    inside one block leave the maps, not the reset's empty file written last."""
    from labkit.hba import ident_mappings, set_ident_maps

    lab = clean_lab16
    with lab.files_written_together():
        lab.reset_config()
        set_ident_maps(lab, {"certmap": [("CN=conssl,O=pgtls-lab", "reporter")]})
    assert "certmap" in lab.backend.read_file("pg_ident.conf").decode()
    assert lab.reload().ok
    rows = ident_mappings(lab)
    assert list(rows["map_name"]) == ["certmap"] and list(rows["pg_username"]) == ["reporter"]
    lab.reset_config()
    assert lab.reload().ok
