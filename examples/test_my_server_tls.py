"""A worked example: test a TLS policy against a real PostgreSQL with pgtls-lab's pytest plugin.

Run it with ``pytest examples/test_my_server_tls.py`` once pgtls-lab is installed (the plugin registers
itself; ``-p no:labkit`` turns it off). The ``labkit_lab`` fixture starts one real server for the session
(``--labkit-backend local|docker|auto``, ``--labkit-pg-version 12..17``); ``labkit_pki`` is a lab PKI;
``labkit_tls`` applies the guide's server layers and asserts what clients see.

The policy under test -- write yours the same way:
  * the server presents a certificate that chains to our root, so ``verify-full`` works;
  * only TLS 1.3 is accepted; a client capped at TLS 1.2 is refused;
  * a client that trusts another CA is refused by its own verification.
"""
from __future__ import annotations

import pytest

from labkit.layers import layer_protocols, layer_ssl_on


@pytest.fixture
def tls13_only(labkit_tls):
    """The policy: the lab certificate chain, TLS 1.3 and nothing older."""
    labkit_tls.apply(layer_ssl_on(labkit_tls.pki, cert="server_chain"), layer_protocols(min="TLSv1.3"))
    return labkit_tls


def test_verify_full_connects_over_tls13(tls13_only):
    result = tls13_only.connects(tls_version="TLSv1.3", **tls13_only.verify_full())
    assert result.pg_stat_ssl["ssl"] is True  # the server's own view of the session (pg_stat_ssl)


def test_a_tls12_client_is_refused(tls13_only):
    tls13_only.refused(**tls13_only.verify_full(), ssl_max_protocol_version="TLSv1.2",
                       match="protocol version|handshake|alert")


def test_a_client_trusting_another_ca_is_refused(tls13_only):
    tls13_only.refused(sslmode="verify-full", sslrootcert=tls13_only.pki.paths.rogue_ca_crt,
                       match="certificate verify failed")


def test_before_the_policy_the_lab_accepts_tls12(labkit_tls):
    """The control: without the protocol layer a TLS 1.2 client does get in, so the refusal above is the
    policy's doing and not the client's."""
    labkit_tls.apply(layer_ssl_on(labkit_tls.pki, cert="server_chain"))
    labkit_tls.connects(tls_version="TLSv1.2", **labkit_tls.verify_full(), ssl_max_protocol_version="TLSv1.2")
