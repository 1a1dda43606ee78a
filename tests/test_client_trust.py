"""labkit.client_trust: the stand-in system store and the client-side CRLs, checked against a real server."""
from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from labkit import client_trust
from labkit.ca import load_cert, openssl_name_hash
from labkit.client import attempt
from labkit.errors import InvalidValue
from labkit.layers import layer_ca, layer_hostssl, layer_ssl_on
from labkit.pki import LabPKI
from labkit.roles import ensure_role
from labkit.server import LabServer
from labkit.transaction import apply


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI.ensure(tmp_path_factory.mktemp("trust") / "pki")


def test_system_store_holds_exactly_the_certificates_given(tmp_path: Path, pki: LabPKI) -> None:
    env = client_trust.system_store(tmp_path / "store", pki.paths.root_crt)
    assert set(env) == {"SSL_CERT_FILE", "SSL_CERT_DIR"} and not any(Path(env["SSL_CERT_DIR"]).iterdir())
    assert x509.load_pem_x509_certificates(Path(env["SSL_CERT_FILE"]).read_bytes()) == [load_cert(pki.paths.root_crt)]
    assert Path(client_trust.system_store(tmp_path / "none")["SSL_CERT_FILE"]).read_bytes() == b""
    with pytest.raises(InvalidValue, match="PEM certificate"):
        client_trust.system_store(tmp_path / "bad", tmp_path / "missing.crt")


def test_revoked_server_lists_it_in_both_client_crls_and_leaves_the_lab_crls(tmp_path: Path, pki: LabPKI) -> None:
    before = pki.paths.combined_crl.read_bytes()
    revoked = client_trust.revoked_server(pki, tmp_path / "crl", space="t42")
    serial = load_cert(revoked.crt).serial_number
    text = revoked.crl_file.read_bytes()
    blocks = [b"-----BEGIN X509 CRL-----" + part for part in text.split(b"-----BEGIN X509 CRL-----")[1:]]
    crls = [x509.load_pem_x509_crl(block) for block in blocks]
    assert [c.get_revoked_certificate_by_serial_number(serial) is not None for c in crls] == [True, False]
    assert sorted(p.name for p in revoked.crl_dir.iterdir()) == sorted(f"{openssl_name_hash(c.issuer)}.r0" for c in crls)
    assert pki.paths.combined_crl.read_bytes() == before  # other lessons' CRLs untouched


def test_client_crl_file_and_dir_refuse_the_revoked_server(lab16: LabServer, pki: LabPKI, tmp_path: Path) -> None:
    """Both CRL forms reach libpq (attempt() must not let its isolation sslcrl switch the folder off)."""
    revoked = client_trust.revoked_server(pki, tmp_path / "crl", space="t42")
    password = ensure_role(lab16, "conssl")
    assert apply(lab16, layer_ssl_on(pki, cert=revoked.crt, key=revoked.key), layer_ca(pki),
                 layer_hostssl("scram-sha-256", users=("conssl",))).ok
    try:
        common = {"sslmode": "verify-full", "sslrootcert": pki.paths.combined_crt, "user": "conssl", "password": password}
        assert attempt(lab16, **common).connected  # control: no CRL
        for extra in ({"sslcrl": revoked.crl_file}, {"sslcrldir": revoked.crl_dir}):
            result = attempt(lab16, **common, extra=extra)
            assert result.error_key == "server_cert_revoked", (extra, result.error_text, result.server_log)
        rows = [client_trust.row("client CRL", "dir", attempt(lab16, **common, extra={"sslcrldir": revoked.crl_dir}))]
        assert rows[0]["server saw"] == "not connected" and rows[0]["error key"] == "server_cert_revoked"
    finally:
        lab16.reset_config()
        lab16.reload()
