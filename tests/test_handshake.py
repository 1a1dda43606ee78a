"""labkit.handshake against a real PostgreSQL 16 lab: the one SSLRequest+TLS routine and what uses it."""
from __future__ import annotations

import pytest
from cryptography import x509

from labkit import handshake, monitoring, transaction
from labkit.errors import InvalidValue, LabkitError
from labkit.layers import layer_ssl_on
from labkit.pki import LabPKI


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI.ensure(tmp_path_factory.mktemp("handshake-pki"))


def _serial(path) -> str:
    return f"{x509.load_pem_x509_certificate(path.read_bytes()).serial_number:x}"


def test_served_certificate_follows_reload_not_files(clean_lab16, pki: LabPKI) -> None:
    lab = clean_lab16
    before = handshake.served_certificate(lab.host, lab.port)
    assert monitoring.pki_name(pki, before.serial) == "not from the lab PKI"  # the bootstrap certificate
    assert transaction.apply(lab, layer_ssl_on(pki)).ok
    served = handshake.served_certificate(lab.host, lab.port)
    assert served.serial == _serial(pki.paths.server_crt)
    assert monitoring.pki_name(pki, served.serial) == "server.crt"
    assert "CN=localhost" in served.subject and "Intermediate" in served.issuer
    assert served.tls_version == "TLSv1.3" and len(served.sha256) == 64
    lab.deliver("server.crt", pki.paths.server2_crt, 0o644)
    lab.deliver("server.key", pki.paths.server2_key, 0o600)
    assert monitoring.pki_name(pki, handshake.served_certificate(lab.host, lab.port).serial) == "server.crt"
    assert lab.reload().ok
    assert monitoring.pki_name(pki, handshake.served_certificate(lab.host, lab.port).serial) == "server2.crt"


def test_the_routine_names_the_stage_it_stopped_at(clean_lab16) -> None:
    lab = clean_lab16
    lab.set_settings({"ssl": False})
    lab.reload()
    with pytest.raises(handshake.HandshakeFailure, match="server has no SSL") as caught:
        handshake.served_certificate(lab.host, lab.port)
    assert caught.value.stage == "no-ssl" and "ssl = on" in str(caught.value)
    with pytest.raises(LabkitError, match="could not connect"):
        handshake.served_certificate("127.0.0.1", 1, timeout=1)
    assert handshake.probe(lab.host, lab.port, "TLSv1.3").result == "server has no SSL"
    assert handshake.handshake_ms(lab.host, lab.port, "TLSv1.3") is None


def test_probe_pins_one_version_and_timing_measures_both(clean_lab16) -> None:
    lab = clean_lab16  # defaults: TLS 1.2 .. 1.3
    assert handshake.probe(lab.host, lab.port, "TLSv1.2").negotiated_version == "TLSv1.2"
    refused = handshake.probe_lab(lab, "TLSv1.1")
    assert refused.result == "refused" and "could not accept SSL connection" in refused.server_log
    times = handshake.handshake_times(lab, repeats=3)
    assert times.handshakes.tolist() == [3, 3] and (times.median_ms > 0).all()
    with pytest.raises(InvalidValue, match="repeats"):
        handshake.handshake_times(lab, repeats=0)


@pytest.mark.parametrize(("smin", "smax", "cap", "expected"), [
    ("TLSv1.2", "TLSv1.3", "TLSv1.1", None), ("TLSv1.2", "TLSv1.3", "TLSv1.2", "TLSv1.2"),
    ("TLSv1.3", "TLSv1.3", "TLSv1.2", None), ("TLSv1.2", "TLSv1.2", "TLSv1.3", "TLSv1.2"),
    ("TLSv1", "", "TLSv1.3", "TLSv1.3"), ("TLSv1.2", "", "TLSv1.3", "TLSv1.3"),
])
def test_expected_version(smin: str, smax: str, cap: str, expected: str | None) -> None:
    assert handshake.expected_version(smin, smax, cap) == expected


def test_expected_version_refuses_unknown_names() -> None:
    with pytest.raises(InvalidValue, match=r"(?s)invalid client_max: 'TLSv1.0'.*spelled 'TLSv1'"):
        handshake.expected_version("TLSv1.2", "", "TLSv1.0")


def test_python_can_offer_names_every_protocol_of_the_guide() -> None:
    offer = handshake.python_can_offer()
    assert list(offer) == ["SSLv2", "SSLv3", *handshake.VERSIONS]
    assert offer["TLSv1.2"] and offer["TLSv1.3"] and not offer["SSLv2"]


def test_trace_counts_round_trips_and_sees_the_hello_retry(any_lab, pki: LabPKI) -> None:
    """ssl_ecdh_curve's default (prime256v1) against a client leading with an X25519 share: a
    HelloRetryRequest, 2 round trips; a client with a P-256 share (the control): 1 round trip."""
    from labkit.layers import layer_ecdh_curve

    lab = any_lab
    assert transaction.apply(lab, layer_ssl_on(pki)).ok
    retried = handshake.handshake_trace(lab.host, lab.port, "TLSv1.3")
    assert retried.key_shares == ("X25519",) and retried.hello_retry and retried.round_trips == 2, retried
    assert retried.retry_group == retried.group == "prime256v1"
    direct = handshake.handshake_trace(lab.host, lab.port, "TLSv1.3", client_group="prime256v1")
    assert (direct.key_shares, direct.hello_retry, direct.round_trips) == (("prime256v1",), False, 1), direct
    tls12 = handshake.handshake_trace(lab.host, lab.port, "TLSv1.2")
    assert (tls12.version, tls12.round_trips, tls12.hello_retry, tls12.group) == ("TLSv1.2", 2, False, "prime256v1")
    # another server group changes what the retry asks for; X25519 cannot be set before PostgreSQL 18
    assert transaction.apply(lab, layer_ecdh_curve("secp384r1")).ok
    assert handshake.handshake_trace(lab.host, lab.port, "TLSv1.3").retry_group == "secp384r1"
    refused = transaction.apply(lab, layer_ecdh_curve("X25519"))
    assert not refused.ok and refused.rolled_back
    assert any("ECDH: could not create key" in line for line in refused.problems), refused.problems
    times = handshake.handshake_times(lab, repeats=2)
    assert times.round_trips.tolist() == [2, 2] and times.hello_retries.tolist() == [0, 2]
    with pytest.raises(InvalidValue, match="curve"):
        layer_ecdh_curve("X25519; DROP")
