"""Direct TLS (PostgreSQL 17+) and PostgreSQL 18's TLS 1.3 settings, through labkit, against real servers:
the routines lessons 43 and 44 stand on (labkit.handshake's direct probe and direct trace, layers.layer_tls13,
scenarios.tls13_settings), each with a control on a server that behaves the other way."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from labkit import handshake, layers, scenarios, transaction
from labkit.audit.outside import direct_tls
from labkit.errors import InvalidValue
from labkit.pki import LabPKI
from labkit.server import LabServer

from .conftest import _lab


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI.ensure(tmp_path_factory.mktemp("direct-pki"))


@pytest.fixture(scope="module")
def lab17(tmp_path_factory: pytest.TempPathFactory, pki: LabPKI) -> Iterator[LabServer]:
    for server in _lab(tmp_path_factory, 17):
        assert transaction.apply(server, layers.layer_ssl_on(pki)).ok
        yield server


@pytest.fixture(scope="module")
def lab18(tmp_path_factory: pytest.TempPathFactory, pki: LabPKI) -> Iterator[LabServer]:
    for server in _lab(tmp_path_factory, 18):
        assert transaction.apply(server, layers.layer_ssl_on(pki)).ok
        yield server


def test_direct_probe_needs_17_and_alpn(lab17: LabServer, clean_lab16: LabServer, pki: LabPKI) -> None:
    accepted = handshake.direct_probe(lab17.host, lab17.port)
    assert accepted.accepted and accepted.alpn == "postgresql" and accepted.error is None
    bare = handshake.direct_probe(lab17.host, lab17.port, alpn=())
    assert bare.accepted and bare.alpn is None and bare.error == "closed after the handshake"
    assert transaction.apply(clean_lab16, layers.layer_ssl_on(pki)).ok
    old = handshake.direct_probe(clean_lab16.host, clean_lab16.port)
    assert old.accepted is False and old.result == "refused"
    assert direct_tls(lab17.host, lab17.port, 3) == "accepted (ALPN postgresql)"  # the audit's check
    assert direct_tls(clean_lab16.host, clean_lab16.port, 3).startswith("not accepted")


def test_direct_trace_saves_the_ssl_request_round_trip(lab17: LabServer) -> None:
    via_request = handshake.handshake_trace(lab17.host, lab17.port, "TLSv1.3", client_group="prime256v1")
    direct = handshake.handshake_trace(lab17.host, lab17.port, "TLSv1.3", client_group="prime256v1", direct=True)
    assert (via_request.round_trips, via_request.total_round_trips, via_request.direct) == (1, 2, False)
    assert (direct.round_trips, direct.total_round_trips, direct.alpn) == (1, 1, "postgresql")
    times = handshake.handshake_times(lab17, ("TLSv1.3",), repeats=2, direct=True)  # default X25519 share
    assert times.total_round_trips.tolist() == [2] and times.hello_retries.tolist() == [2]  # 17: prime256v1 only


def test_layer_tls13_checks_shape_and_suite_names() -> None:
    layer = layers.layer_tls13("TLS_AES_256_GCM_SHA384", "X25519:prime256v1")
    assert layer.settings == {"ssl_tls13_ciphers": "TLS_AES_256_GCM_SHA384", "ssl_groups": "X25519:prime256v1"}
    with pytest.raises(InvalidValue, match="TLS_FOO"):
        layers.layer_tls13("TLS_FOO")
    assert layers.layer_tls13("TLS_FOO", unchecked=True).settings == {"ssl_tls13_ciphers": "TLS_FOO"}
    with pytest.raises(InvalidValue, match="ssl_groups"):
        layers.layer_tls13(groups="X25519'; ssl = off")
    with pytest.raises(InvalidValue):
        layers.layer_tls13()


def test_tls13_settings_rows_on_18_and_on_16(lab18: LabServer, clean_lab16: LabServer, pki: LabPKI) -> None:
    rows = scenarios.tls13_settings(lab18, pki, [None, layers.layer_tls13("TLS_CHACHA20_POLY1305_SHA256"),
                                                 layers.layer_tls13(groups="prime256v1"),
                                                 layers.layer_tls13(groups="X99")]).to_dict("records")
    assert [r["setting"] for r in rows] == ["(defaults)", "ssl_tls13_ciphers = TLS_CHACHA20_POLY1305_SHA256",
                                            "ssl_groups = prime256v1", "ssl_groups = X99"]
    assert rows[0]["groups accepted"] == "X25519 prime256v1" and rows[0]["HelloRetryRequest"] is False
    assert rows[1]["suites accepted"] == rows[1]["pg_stat_ssl cipher"] == "TLS_CHACHA20_POLY1305_SHA256"
    assert (rows[2]["HelloRetryRequest"], rows[2]["round trips"]) == (True, 2)
    assert rows[3]["reload"] == "refused" and rows[3]["outcome"] == "tls13_setting_invalid"
    assert lab18.show("ssl_tls13_ciphers") == "" and lab18.show("ssl_groups") == "X25519:prime256v1"  # reverted
    assert transaction.apply(clean_lab16, layers.layer_ssl_on(pki)).ok
    with pytest.raises(InvalidValue, match="has no parameter 'ssl_tls13_ciphers'"):
        transaction.apply(clean_lab16, layers.layer_tls13("TLS_AES_256_GCM_SHA384"))
    old = scenarios.tls13_settings(clean_lab16, pki, [layers.layer_tls13("TLS_AES_256_GCM_SHA384", unchecked=True)])
    assert old.to_dict("records")[0]["outcome"] == "setting_unknown"


def test_18_still_reads_ssl_ecdh_curve_as_ssl_groups(lab18: LabServer) -> None:
    applied = transaction.apply(lab18, layers.layer_ecdh_curve("secp384r1:X25519"))
    try:
        assert applied.ok and lab18.show("ssl_groups") == "secp384r1:X25519"
    finally:
        transaction.revert(lab18, "L4")
    assert lab18.show("ssl_groups") == "X25519:prime256v1"
