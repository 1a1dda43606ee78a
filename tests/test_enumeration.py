"""labkit.enumeration against real servers: what PostgreSQL 16 (OpenSSL 1.1.1) and 15 (OpenSSL 3.0) accept,
per key type and cipher string, enumerated with sslyze by elimination -- and what that costs in the log.

The figures are the ones issue 9 measured independently with sslyze's per-suite scan, nmap and testssl.sh.
"""
from __future__ import annotations

import pytest

from labkit import enumeration, guide, scenarios, transaction
from labkit.layers import layer_ciphers, layer_ssl_on
from labkit.pki import LabPKI
from labkit.server import LabServer

from .helpers import wait_for_log


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI.ensure(tmp_path_factory.mktemp("enumeration-pki"))


def test_ecdsa_server_accepts_15_tls12_suites_3_tls13_and_one_group(any_lab: LabServer, pki: LabPKI) -> None:
    assert transaction.apply(any_lab, layer_ssl_on(pki)).ok
    found = enumeration.enumerate_lab(any_lab)
    assert found.versions == {"TLSv1": False, "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": True}
    assert found.tls12_counts() == {"suites": 15, "without forward secrecy": 0}, found.suites
    assert sorted(found.suites["TLSv1.3"]) == ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                               "TLS_CHACHA20_POLY1305_SHA256"]
    assert found.groups == ["prime256v1"]
    # elimination: about two log lines per handshake, not one refusal per suite sslyze knows (~1,400)
    assert found.handshakes < 40 and found.log_lines is not None and found.log_lines <= 3 * found.handshakes


def test_a_restricted_string_is_what_the_server_accepts(any_lab: LabServer, pki: LabPKI) -> None:
    assert transaction.apply(any_lab, layer_ssl_on(pki), layer_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")).ok
    found = enumeration.enumerate_server(any_lab.host, any_lab.port, "localhost", groups=False)
    assert found.suites["TLSv1.2"] == ["ECDHE-ECDSA-AES128-GCM-SHA256"]
    assert found.groups == [] and len(found.suites["TLSv1.3"]) == 3  # ssl_ciphers does not touch TLS 1.3


def test_rsa_key_critical_vs_normal_depends_on_the_servers_openssl(any_lab: LabServer, pki: LabPKI) -> None:
    strings = {"default": None, "critical": guide.CIPHERS_CRITICAL, "normal": guide.CIPHERS_NORMAL}
    frame, sets = scenarios.accepted_by_cipher_string(any_lab, pki, strings, key_types=("rsa-2048",))
    counts = [(r["TLS 1.2 suites"], r["without forward secrecy"]) for r in frame.to_dict("records")]
    if any_lab.state.pg_major == 16:  # OpenSSL 1.1.1: "critical" drops the two SEED suites
        assert counts == [(46, 17), (44, 16), (46, 17)], frame.to_string()
        dropped = set(sets[("rsa-2048", "normal")].suites["TLSv1.2"]) - set(sets[("rsa-2048", "critical")].suites["TLSv1.2"])
        assert dropped == {"SEED-SHA", "DHE-RSA-SEED-SHA"}
    else:  # OpenSSL 3.0: no SEED, the strings are equal
        assert counts == [(44, 16)] * 3, frame.to_string()
    assert set(frame["Mozilla intermediate"].str.startswith("fail")) == {True}
    assert any_lab.settings == {}


def test_enumeration_refuses_a_server_without_tls(any_lab: LabServer) -> None:
    from labkit.errors import LabkitError

    any_lab.set_settings({"ssl": False})
    any_lab.reload()
    with pytest.raises(LabkitError, match="could not complete a TLS handshake"):
        enumeration.enumerate_server(any_lab.host, any_lab.port, "localhost")


def test_the_client_certificate_check_answers_at_once_and_the_server_says_why(any_lab: LabServer, pki: LabPKI) -> None:
    """sslyze's own TLS 1.3 check sends one byte and waits for PostgreSQL to answer, which it never does
    before a full startup packet: 5.0 s per check of a server with ssl_ca_file. labkit's CancelRequest
    gets the same verdict (optional: PostgreSQL asks for a certificate, pg_hba.conf decides) at once."""
    import time

    from labkit.layers import layer_ca

    assert transaction.apply(any_lab, layer_ssl_on(pki)).ok
    assert enumeration.connectivity(any_lab.host, any_lab.port, "localhost").tls_probing_result \
        .client_auth_requirement.name == "DISABLED"  # no ssl_ca_file: the server asks for no certificate
    assert transaction.apply(any_lab, layer_ssl_on(pki), layer_ca(pki, "combined")).ok
    mark = any_lab.log_mark()
    started = time.monotonic()
    info = enumeration.connectivity(any_lab.host, any_lab.port, "localhost", timeout=5)
    took = time.monotonic() - started
    assert info.tls_probing_result.client_auth_requirement.name == "OPTIONAL"
    assert took < 2, f"the connectivity check took {took:.1f} s: is sslyze's one-byte probe waiting again?"
    assert "PID 0 in cancel request did not match any process" in wait_for_log(any_lab, mark, "in cancel request")
    assert transaction.apply(any_lab, layer_ssl_on(pki)).ok
