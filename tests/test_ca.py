"""labkit.ca: a CA with verbs builds any hierarchy, and what it builds verifies -- with cryptography's verifier
and with the openssl command -- while each failing control fails."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from labkit.ca import CA, certificate_facts, verifies
from labkit.errors import InvalidValue
from labkit.pki import LabPKI

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl command not installed")


@pytest.fixture(params=["ecdsa-p256", "rsa-2048"])
def hierarchy(request: pytest.FixtureRequest) -> tuple[CA, CA]:
    root = CA.root("Test Root", org="example", key_type=request.param)
    return root, root.child_ca("Test Intermediate")


def test_child_ca_and_leaves_verify_and_controls_fail(hierarchy: tuple[CA, CA]) -> None:
    root, inter = hierarchy
    server = inter.issue_server_cert("db.example.test", "127.0.0.1")
    client = inter.issue_client_cert("conssl")
    assert verifies(server.cert, "server", root.cert, [inter.cert])
    assert verifies(client.cert, "client", root.cert, [inter.cert])
    assert verifies(inter.cert, "ca", root.cert)
    stranger = CA.root("Stranger Root", key_type=inter.key_type)
    assert not verifies(server.cert, "server", stranger.cert, [inter.cert])  # another root: refused
    assert not verifies(server.cert, "server", root.cert)  # intermediate not offered: refused
    assert not verifies(client.cert, "server", root.cert, [inter.cert])  # a client certificate is no server's
    assert server.cert.issuer == inter.cert.subject and inter.org == "example"
    assert type(server.key) is type(root.key)


def test_revoke_and_crl(hierarchy: tuple[CA, CA]) -> None:
    root, inter = hierarchy
    kept, gone = inter.issue_client_cert("kept"), inter.issue_client_cert("gone")
    inter.revoke(gone.cert)
    inter.revoke(gone.cert)  # twice is harmless
    crl = inter.crl(number=7)
    assert crl.get_revoked_certificate_by_serial_number(gone.cert.serial_number) is not None
    assert crl.get_revoked_certificate_by_serial_number(kept.cert.serial_number) is None
    assert crl.is_signature_valid(inter.key.public_key())
    facts = certificate_facts(gone.cert, "client", root.cert, [inter.cert], [crl])
    assert facts["revoked"] and facts["chain_verifies"]  # revocation is its own column
    with pytest.raises(InvalidValue, match="issued by"):
        root.revoke(gone.cert)  # not the root's to revoke


def test_bad_names_are_refused_before_anything_is_made() -> None:
    inter = CA.root("R").child_ca("I")
    with pytest.raises(InvalidValue, match="names"):
        inter.issue_server_cert("not a host name")
    with pytest.raises(InvalidValue, match="names"):
        inter.issue_server_cert()
    with pytest.raises(InvalidValue, match="common_name"):
        inter.issue_client_cert("")
    with pytest.raises(InvalidValue, match="key_type"):
        CA.root("R", key_type="dsa")


@needs_openssl
def test_openssl_agrees(tmp_path: Path) -> None:
    root = CA.root("Openssl Root")
    inter = root.child_ca("Openssl Intermediate")
    leaf = inter.issue_server_cert("localhost")
    root.write(tmp_path / "root.crt")
    inter.write(tmp_path / "inter.crt", tmp_path / "inter.key")
    crt, key = leaf.write(tmp_path / "leaf.crt", tmp_path / "leaf.key")
    assert oct(key.stat().st_mode & 0o777) == "0o600"

    def verify(*args: Path | str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([OPENSSL, "verify", *map(str, args)], capture_output=True, text=True, check=False)

    assert verify("-CAfile", tmp_path / "root.crt", "-untrusted", tmp_path / "inter.crt", crt).returncode == 0
    assert verify("-CAfile", tmp_path / "root.crt", crt).returncode != 0  # the failing control


def test_the_lab_pki_can_sign_from_the_root(tmp_path: Path) -> None:
    pki = LabPKI.ensure(tmp_path / "pki")
    crt, key = pki.issue_client("conssl", name="client-by-root", by="root")
    issued = x509.load_pem_x509_certificate(crt.read_bytes())
    assert issued.issuer == pki.root_ca().cert.subject and key.stat().st_mode & 0o777 == 0o600
    row = pki.describe().set_index("file").loc["certs/client-by-root.crt"]
    assert row["chain_verifies"] and not row["revoked"]
    with pytest.raises(InvalidValue, match="'intermediate', 'root'"):
        pki.issue_client("conssl", name="x", by="rogue")


@needs_openssl
def test_the_course_wrong_passphrase_always_reads_bad_decrypt(tmp_path: Path) -> None:
    """About one encryption in 300 decrypts to valid padding under a wrong passphrase, and OpenSSL then says
    'unsupported' (3) or 'wrong tag' (1.1.1). key_pem writes keys for which the course's wrong passphrase
    fails at the padding check: OpenSSL itself says 'bad decrypt' for every one, and the right one opens it."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from labkit.ca import COURSE_WRONG_PASSPHRASE, key_pem

    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "encrypted.key"
    for _ in range(40):
        path.write_bytes(key_pem(key, b"the-right-one"))
        wrong = subprocess.run([OPENSSL, "pkey", "-in", path, "-noout", "-passin",
                                f"pass:{COURSE_WRONG_PASSPHRASE.decode()}"], capture_output=True, text=True)
        assert wrong.returncode != 0 and "bad decrypt" in wrong.stderr, wrong.stderr
    right = subprocess.run([OPENSSL, "pkey", "-in", path, "-noout", "-passin", "pass:the-right-one"],
                           capture_output=True, text=True)
    assert right.returncode == 0, right.stderr


def test_a_pki_made_before_the_check_is_healed(tmp_path: Path) -> None:
    """An existing PKI whose encrypted key reads 'wrong tag'/'unsupported' under the wrong passphrase gets it
    written again by LabPKI.ensure (same key, same passphrase), and the files are otherwise reused."""
    from cryptography.hazmat.primitives import serialization

    from labkit.ca import wrong_passphrase_fails_at_padding

    pki = LabPKI.ensure(tmp_path / "pki")
    key = serialization.load_pem_private_key(pki.paths.server_key.read_bytes(), None)
    while True:  # make the rare key on purpose, as an older labkit could have (about 1 try in 300)
        rare = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,  # type: ignore[union-attr]
                                 serialization.BestAvailableEncryption(pki.passphrase.encode()))
        if not wrong_passphrase_fails_at_padding(rare):
            break
    pki.paths.server_encrypted_key.write_bytes(rare)
    serial = pki.describe().loc[0, "serial"]
    healed = LabPKI.ensure(tmp_path / "pki")
    assert healed.describe().loc[0, "serial"] == serial  # reused, not regenerated
    again = healed.paths.server_encrypted_key.read_bytes()
    assert again != rare and wrong_passphrase_fails_at_padding(again)
    assert serialization.load_pem_private_key(again, pki.passphrase.encode()).private_numbers() == \
        key.private_numbers()  # type: ignore[union-attr]
    assert oct(healed.paths.server_encrypted_key.stat().st_mode & 0o777) == "0o600"
