"""Tests for labkit.pki: the files a lesson relies on, checked with cryptography and cross-checked with openssl.

Every success is paired with a failing control, so a check that passes for the wrong reason (a verifier that
accepts anything, a CRL that is never consulted) shows up.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import labkit.pki  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from labkit import pki as pki_module
from labkit.errors import InvalidValue, WorkspaceError
from labkit.pki import KEY_TYPES, LabPKI, openssl_name_hash

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl command not installed")
TESTED_KEY_TYPES = ("ecdsa-p256", "rsa-2048")


@pytest.fixture(scope="module", params=TESTED_KEY_TYPES)
def lab_pki(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    """One read-only PKI per key type for the whole module (RSA keys take a while to make)."""
    return LabPKI.ensure(tmp_path_factory.mktemp(request.param) / "pki", key_type=request.param)


@pytest.fixture
def fresh_pki(tmp_path: Path) -> LabPKI:
    """A PKI a test may change (revoke, issue, regenerate). ECDSA: made in milliseconds."""
    return LabPKI.ensure(tmp_path / "pki")


def cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def certs(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def crl(path: Path) -> x509.CertificateRevocationList:
    return x509.load_pem_x509_crl(path.read_bytes())


def serials(pki: LabPKI) -> dict[str, int]:
    return {name: cert(path).serial_number for name, path in pki.paths.all().items() if name.endswith("_crt")}


def openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OPENSSL, *map(str, args)], capture_output=True, text=True, check=False)


def openssl_verify(*args: str | Path) -> tuple[bool, str]:
    done = openssl("verify", *args)
    return done.returncode == 0, done.stdout + done.stderr


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ------------------------------------------------------------------------------------------------------
# Layout and file modes
# ------------------------------------------------------------------------------------------------------


def test_layout_and_modes(lab_pki: LabPKI) -> None:
    p = lab_pki.paths
    root = lab_pki.root_dir
    assert {q.relative_to(root).parts[0] for q in p.all().values()} == {"CA", "certs", "private"}
    for name, path in p.all().items():
        assert path.exists(), name
        if name.endswith("_key") or name == "passphrase_file":
            assert path.parent == root / "private"
            assert mode(path) == 0o600, name
        elif name != "crl_dir":
            assert mode(path) == 0o644, name
    assert mode(root / "private") == 0o700
    assert mode(p.crl_dir) == 0o755
    assert sorted(q.name for q in (root / "private").iterdir()) == sorted(
        path.name for name, path in p.all().items() if path.parent.name == "private"
    )


def test_modes_hold_under_a_strict_umask(tmp_path: Path) -> None:
    """Certificates must stay world-readable even when the notebook runs with umask 077."""
    old = os.umask(0o077)
    try:
        pki = LabPKI.ensure(tmp_path / "pki")
    finally:
        os.umask(old)
    assert mode(pki.paths.server_crt) == 0o644
    assert mode(pki.paths.server_key) == 0o600


# ------------------------------------------------------------------------------------------------------
# Certificate contents
# ------------------------------------------------------------------------------------------------------


def test_ca_extensions(lab_pki: LabPKI) -> None:
    p = lab_pki.paths
    root, inter, rogue = cert(p.root_crt), cert(p.intermediate_crt), cert(p.rogue_ca_crt)
    for ca, path_length in ((root, 1), (inter, 0), (rogue, 0)):
        bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
        assert bc.critical and bc.value.ca and bc.value.path_length == path_length
        ku = ca.extensions.get_extension_for_class(x509.KeyUsage)
        assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign and not ku.value.digital_signature
        ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        assert ski == x509.SubjectKeyIdentifier.from_public_key(ca.public_key())
        assert isinstance(ca.signature_hash_algorithm, hashes.SHA256)
        lifetime = ca.not_valid_after_utc - ca.not_valid_before_utc
        assert dt.timedelta(days=3649) < lifetime < dt.timedelta(days=3660)
    aki = inter.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.key_identifier
    assert rogue.subject != root.subject and rogue.issuer == rogue.subject


def test_chain_structure(lab_pki: LabPKI) -> None:
    p = lab_pki.paths
    root, inter = cert(p.root_crt), cert(p.intermediate_crt)
    assert root.issuer == root.subject
    root.verify_directly_issued_by(root)
    assert inter.issuer == root.subject
    inter.verify_directly_issued_by(root)
    for name in ("server", "server2", "wrong_host", "client", "client2", "revoked_client", "expired_client"):
        leaf = cert(getattr(p, f"{name}_crt"))
        assert leaf.issuer == inter.subject, name
        leaf.verify_directly_issued_by(inter)
        with pytest.raises(ValueError):  # control: not signed by the root directly
            leaf.verify_directly_issued_by(root)
    by_root = cert(p.server_by_root_crt)
    assert by_root.issuer == root.subject
    by_root.verify_directly_issued_by(root)
    rogue_client = cert(p.rogue_client_crt)
    rogue_client.verify_directly_issued_by(cert(p.rogue_ca_crt))
    assert rogue_client.issuer != inter.subject and rogue_client.issuer != root.subject
    # bundles: order matters to OpenSSL and PostgreSQL
    assert certs(p.combined_crt) == [inter, root]
    assert certs(p.server_chain_crt) == [cert(p.server_crt), inter]
    assert certs(p.client_chain_crt) == [cert(p.client_crt), inter]


def _sans(c: x509.Certificate) -> list[object]:
    return list(c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)


def _eku(c: x509.Certificate) -> list[x509.ObjectIdentifier]:
    ext = c.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert not ext.critical
    return list(ext.value)


def test_server_certificates(lab_pki: LabPKI) -> None:
    p = lab_pki.paths
    expected = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    for path in (p.server_crt, p.server2_crt, p.server_by_root_crt):
        c = cert(path)
        assert c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "localhost"
        assert _sans(c) == expected
        assert not c.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical
        assert _eku(c) == [ExtendedKeyUsageOID.SERVER_AUTH]
    wrong = cert(p.wrong_host_crt)
    assert _sans(wrong) == [x509.DNSName("db.wrong-host.example")]
    assert wrong.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "db.wrong-host.example"
    # rotation: same names, new serial and new key
    one, two = cert(p.server_crt), cert(p.server2_crt)
    assert one.serial_number != two.serial_number
    assert one.public_key() != two.public_key()


def test_client_certificates(lab_pki: LabPKI) -> None:
    p = lab_pki.paths
    for path, cn in ((p.client_crt, "conssl"), (p.client2_crt, "reporter"), (p.revoked_client_crt, "conssl"),
                     (p.expired_client_crt, "conssl"), (p.rogue_client_crt, "conssl")):
        c = cert(path)
        assert c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == cn
        assert _eku(c) == [ExtendedKeyUsageOID.CLIENT_AUTH]
        with pytest.raises(x509.ExtensionNotFound):
            c.extensions.get_extension_for_class(x509.SubjectAlternativeName)


def test_leaf_common_properties(lab_pki: LabPKI) -> None:
    is_rsa = lab_pki.key_type.startswith("rsa")
    now = dt.datetime.now(dt.timezone.utc)
    seen = set()
    for name, path in lab_pki.paths.all().items():
        if not name.endswith("_crt") or name in ("combined_crt", "server_chain_crt", "client_chain_crt"):
            continue
        c = cert(path)
        assert 0 < c.serial_number < 2**159, name
        seen.add(c.serial_number)
        assert isinstance(c.signature_hash_algorithm, hashes.SHA256)
        if is_rsa:
            assert isinstance(c.public_key(), rsa.RSAPublicKey) and c.public_key().key_size == 2048
        else:
            assert isinstance(c.public_key(), ec.EllipticCurvePublicKey) and c.public_key().curve.name == "secp256r1"
        if c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            continue
        assert c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
        ku = c.extensions.get_extension_for_class(x509.KeyUsage).value
        assert ku.digital_signature and not ku.key_cert_sign
        assert ku.key_encipherment is is_rsa
        lifetime = c.not_valid_after_utc - c.not_valid_before_utc
        assert lifetime == dt.timedelta(days=365), name
        if name == "expired_client_crt":
            assert c.not_valid_after_utc < now - dt.timedelta(hours=23)
        else:
            assert c.not_valid_before_utc < now < c.not_valid_after_utc, name
    assert len(seen) == 12


def test_cryptography_verifier_checks_host_names(lab_pki: LabPKI) -> None:
    store = Store([cert(lab_pki.paths.root_crt)])
    inter = cert(lab_pki.paths.intermediate_crt)
    server, wrong = cert(lab_pki.paths.server_crt), cert(lab_pki.paths.wrong_host_crt)
    for subject in (x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))):
        verifier = PolicyBuilder().store(store).build_server_verifier(subject)
        verifier.verify(server, [inter])
        with pytest.raises(VerificationError):  # control: the wrong-host certificate does not name it
            verifier.verify(wrong, [inter])


# ------------------------------------------------------------------------------------------------------
# Cross-checks with openssl
# ------------------------------------------------------------------------------------------------------


@needs_openssl
def test_openssl_verifies_server_chain(lab_pki: LabPKI) -> None:
    p = lab_pki.paths
    ok, out = openssl_verify("-CAfile", p.root_crt, "-untrusted", p.intermediate_crt, p.server_crt)
    assert ok, out
    ok, out = openssl_verify("-CAfile", p.root_crt, p.server_crt)  # control: intermediate missing
    assert not ok and "unable to get local issuer certificate" in out
    ok, out = openssl_verify("-CAfile", p.combined_crt, "-purpose", "sslserver", p.server_crt)
    assert ok, out
    ok, out = openssl_verify("-CAfile", p.combined_crt, "-purpose", "sslclient", p.server_crt)  # control: EKU
    assert not ok and "unsuitable certificate purpose" in out
    ok, out = openssl_verify("-CAfile", p.root_crt, p.server_by_root_crt)
    assert ok, out
    ok, out = openssl_verify("-CAfile", p.rogue_ca_crt, p.server_by_root_crt)  # control: wrong anchor
    assert not ok


@needs_openssl
def test_openssl_crl_checks(lab_pki: LabPKI) -> None:
    p = lab_pki.paths
    base = ("-CAfile", p.root_crt, "-untrusted", p.intermediate_crt, "-crl_check_all")
    ok, out = openssl_verify(*base, "-CRLfile", p.combined_crl, "-purpose", "sslclient", p.client_crt)
    assert ok, out
    ok, out = openssl_verify(*base, "-CRLfile", p.combined_crl, p.revoked_client_crt)
    assert not ok and "certificate revoked" in out
    # the revoked certificate is otherwise fine: without the CRL check it verifies
    ok, out = openssl_verify("-CAfile", p.root_crt, "-untrusted", p.intermediate_crt, p.revoked_client_crt)
    assert ok, out
    # only the intermediate's CRL: crl_check_all also wants one for the root (the depth-1 lesson)
    ok, out = openssl_verify(*base, "-CRLfile", p.intermediate_crl, p.client_crt)
    assert not ok and "error 3 at 1 depth lookup: unable to get certificate CRL" in out
    # the hashed directory works as ssl_crl_dir would use it
    ok, out = openssl_verify(*base, "-CApath", p.crl_dir, p.client_crt)
    assert ok, out
    ok, out = openssl_verify(*base, "-CApath", p.crl_dir, p.revoked_client_crt)
    assert not ok and "certificate revoked" in out


@needs_openssl
def test_openssl_rejects_expired_and_rogue(lab_pki: LabPKI) -> None:
    p = lab_pki.paths
    base = ("-CAfile", p.root_crt, "-untrusted", p.intermediate_crt)
    ok, out = openssl_verify(*base, p.client_crt)
    assert ok, out
    ok, out = openssl_verify(*base, p.expired_client_crt)
    assert not ok and "certificate has expired" in out
    ok, out = openssl_verify(*base, p.rogue_client_crt)
    assert not ok and "unable to get local issuer certificate" in out
    ok, out = openssl_verify("-CAfile", p.rogue_ca_crt, p.rogue_client_crt)  # control: its own CA accepts it
    assert ok, out


@needs_openssl
def test_crl_dir_uses_openssl_hash_names(lab_pki: LabPKI) -> None:
    p = lab_pki.paths
    expected = {}
    for path in (p.root_crl, p.intermediate_crl):
        digest = openssl("crl", "-hash", "-noout", "-in", path).stdout.strip()
        assert len(digest) == 8
        expected[f"{digest}.r0"] = crl(path)
        assert openssl_name_hash(crl(path).issuer) == digest
    assert {q.name: crl(q) for q in p.crl_dir.iterdir()} == expected
    # control: the two CAs hash differently, so each CRL needs its own file
    assert len(expected) == 2


def _self_signed(subject: x509.Name) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    return (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


A = x509.NameAttribute
NAMES = {
    "plain": x509.Name([A(NameOID.COMMON_NAME, "pgtls-lab Root CA")]),
    "case_and_spaces": x509.Name([
        A(NameOID.ORGANIZATION_NAME, "  Mixed   CASE\tOrg  "), A(NameOID.COMMON_NAME, "X  Y"),
    ]),
    "printable": x509.Name([
        A(NameOID.COUNTRY_NAME, "DE"), A(NameOID.COMMON_NAME, "Upper Case", _ASN1Type.PrintableString),
    ]),
    "non_ascii": x509.Name([A(NameOID.LOCALITY_NAME, "ZÜRICH  Straße"), A(NameOID.COMMON_NAME, "Ümlaut")]),
    "bmp": x509.Name([A(NameOID.COMMON_NAME, "BMP Name é", _ASN1Type.BMPString)]),
    "t61_and_universal": x509.Name([A(NameOID.ORGANIZATION_NAME, "T61 Org", _ASN1Type.T61String),
                                    A(NameOID.COMMON_NAME, "Univ  NAME", _ASN1Type.UniversalString)]),
    "email_ia5": x509.Name([A(NameOID.EMAIL_ADDRESS, "Admin@Example.ORG"), A(NameOID.COMMON_NAME, "a")]),
    "multi_valued_rdn": x509.Name([
        x509.RelativeDistinguishedName([A(NameOID.COMMON_NAME, "Zed"), A(NameOID.ORGANIZATION_NAME, "Alpha")]),
        x509.RelativeDistinguishedName([A(NameOID.ORGANIZATIONAL_UNIT_NAME, "Unit")]),
    ]),
    "numeric_string_not_canonicalised": x509.Name([A(NameOID.SERIAL_NUMBER, "0042"), A(NameOID.COMMON_NAME, "n")]),
    "long": x509.Name([A(NameOID.COMMON_NAME, "c" * 64), A(NameOID.ORGANIZATIONAL_UNIT_NAME, "u" * 200)]),
}


@needs_openssl
@pytest.mark.parametrize("label", sorted(NAMES))
def test_openssl_name_hash_matches_openssl(label: str, tmp_path: Path) -> None:
    subject = NAMES[label]
    path = tmp_path / "c.pem"
    path.write_bytes(_self_signed(subject).public_bytes(serialization.Encoding.PEM))
    assert openssl_name_hash(subject) == openssl("x509", "-noout", "-subject_hash", "-in", path).stdout.strip()


def test_openssl_name_hash_is_case_and_space_insensitive() -> None:
    one = x509.Name([A(NameOID.COMMON_NAME, "Lab  CA")])
    assert openssl_name_hash(one) == openssl_name_hash(x509.Name([A(NameOID.COMMON_NAME, " lab ca ")]))
    assert openssl_name_hash(one) != openssl_name_hash(x509.Name([A(NameOID.COMMON_NAME, "lab-ca")]))


# ------------------------------------------------------------------------------------------------------
# The encrypted key
# ------------------------------------------------------------------------------------------------------


def test_encrypted_key(lab_pki: LabPKI) -> None:
    p = lab_pki.paths
    data = p.server_encrypted_key.read_bytes()
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert p.passphrase_file.read_text() == lab_pki.passphrase + "\n"
    assert len(lab_pki.passphrase) >= 24
    key = serialization.load_pem_private_key(data, password=lab_pki.passphrase.encode())
    plain = serialization.load_pem_private_key(p.server_key.read_bytes(), password=None)
    assert key.public_key() == plain.public_key() == cert(p.server_crt).public_key()
    with pytest.raises(TypeError):  # control: no passphrase
        serialization.load_pem_private_key(data, password=None)
    with pytest.raises(ValueError):  # control: wrong passphrase
        serialization.load_pem_private_key(data, password=b"not-the-passphrase")


@needs_openssl
def test_openssl_reads_encrypted_key(lab_pki: LabPKI) -> None:
    key = lab_pki.paths.server_encrypted_key
    assert openssl("pkey", "-in", key, "-passin", f"file:{lab_pki.paths.passphrase_file}", "-noout").returncode == 0
    assert openssl("pkey", "-in", key, "-passin", "pass:wrong", "-noout").returncode != 0


# ------------------------------------------------------------------------------------------------------
# Reuse and regeneration
# ------------------------------------------------------------------------------------------------------


def test_reuse_returns_same_files(fresh_pki: LabPKI) -> None:
    before = serials(fresh_pki)
    passphrase = fresh_pki.passphrase
    manifest_mtime = (fresh_pki.root_dir / "manifest.json").stat().st_mtime_ns
    again = LabPKI.ensure(fresh_pki.root_dir)
    assert serials(again) == before
    assert (fresh_pki.root_dir / "manifest.json").stat().st_mtime_ns == manifest_mtime
    assert again.passphrase == passphrase
    regenerated = LabPKI.ensure(fresh_pki.root_dir, regenerate=True)  # control
    after = serials(regenerated)
    bundles = ("combined_crt", "server_chain_crt", "client_chain_crt")
    assert all(after[name] != before[name] for name in before if name not in bundles)
    assert regenerated.passphrase != passphrase


@pytest.mark.parametrize(
    "change",
    [
        {"key_type": "rsa-2048"},
        {"server_names": ("db.example.test",)},
        {"server_names": ("127.0.0.1", "localhost")},
        {"client_roles": ("conssl",)},
    ],
    ids=["key_type", "server_names", "server_name_order", "client_roles"],
)
def test_different_parameters_regenerate(fresh_pki: LabPKI, change: dict[str, object]) -> None:
    before = cert(fresh_pki.paths.root_crt).serial_number
    pki = LabPKI.ensure(fresh_pki.root_dir, **change)  # type: ignore[arg-type]
    assert cert(pki.paths.root_crt).serial_number != before
    assert json.loads((fresh_pki.root_dir / "manifest.json").read_text())["key_type"] == pki.key_type


def test_missing_file_regenerates(fresh_pki: LabPKI) -> None:
    before = cert(fresh_pki.paths.root_crt).serial_number
    fresh_pki.paths.client2_key.unlink()
    pki = LabPKI.ensure(fresh_pki.root_dir)
    assert pki.paths.client2_key.exists()
    assert cert(pki.paths.root_crt).serial_number != before


def test_replaced_certificate_regenerates(fresh_pki: LabPKI) -> None:
    before = cert(fresh_pki.paths.root_crt).serial_number
    shutil.copy(fresh_pki.paths.server2_crt, fresh_pki.paths.server_crt)
    assert cert(LabPKI.ensure(fresh_pki.root_dir).paths.root_crt).serial_number != before


def test_expiry_regenerates(fresh_pki: LabPKI, monkeypatch: pytest.MonkeyPatch) -> None:
    before = cert(fresh_pki.paths.root_crt).serial_number
    assert cert(LabPKI.ensure(fresh_pki.root_dir).paths.root_crt).serial_number == before  # expired client tolerated
    real_now = pki_module._now
    monkeypatch.setattr(pki_module, "_now", lambda: real_now() + dt.timedelta(days=365))
    assert cert(LabPKI.ensure(fresh_pki.root_dir).paths.root_crt).serial_number != before


def test_reuse_restores_key_modes(fresh_pki: LabPKI) -> None:
    fresh_pki.paths.server_key.chmod(0o644)
    LabPKI.ensure(fresh_pki.root_dir)
    assert mode(fresh_pki.paths.server_key) == 0o600


# ------------------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "name", "value"),
    [
        ({"key_type": "dsa"}, "key_type", "dsa"),
        ({"key_type": "rsa-1024"}, "key_type", "rsa-1024"),
        ({"server_names": ("bad host!",)}, "server_names", "bad host!"),
        ({"server_names": ("localhost", "-x.example")}, "server_names", "-x.example"),
        ({"server_names": ("300.1.1.1",)}, "server_names", "300.1.1.1"),
        ({"server_names": ()}, "server_names", ()),
        ({"server_names": "localhost"}, "server_names", "localhost"),
        ({"server_names": ("localhost", "LOCALHOST")}, "server_names", ("localhost", "LOCALHOST")),
        ({"client_roles": ("Bad-Role",)}, "client_roles", "Bad-Role"),
        ({"client_roles": ("",)}, "client_roles", ""),
        ({"client_roles": ()}, "client_roles", ()),
        ({"client_roles": ("a", "a")}, "client_roles", ("a", "a")),
    ],
)
def test_bad_input_raises_before_writing(tmp_path: Path, kwargs: dict[str, object], name: str, value: object) -> None:
    root = tmp_path / "pki"
    with pytest.raises(InvalidValue) as info:
        LabPKI.ensure(root, **kwargs)  # type: ignore[arg-type]
    assert info.value.name == name
    assert info.value.value == value
    assert repr(value) in str(info.value)
    assert not root.exists()


def test_good_names_accepted(tmp_path: Path) -> None:
    names = ("db.example.test", "::1", "10.0.0.7", "pg-1")
    pki = LabPKI.ensure(tmp_path / "pki", server_names=names, client_roles=("alice",))
    sans = _sans(cert(pki.paths.server_crt))
    assert [str(g.value) for g in sans] == ["db.example.test", "::1", "10.0.0.7", "pg-1"]
    assert isinstance(sans[1], x509.IPAddress)
    # one role only: the second client certificate falls back to it
    assert cert(pki.paths.client2_crt).subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"


def test_unwritable_root_raises_workspace_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(WorkspaceError) as info:
        LabPKI.ensure(blocker / "pki")
    assert str(blocker / "pki") in str(info.value)


def test_actions_need_an_ensured_pki(tmp_path: Path) -> None:
    pki = LabPKI(tmp_path, "ecdsa-p256", ("localhost",), ("conssl",))
    with pytest.raises(WorkspaceError):
        pki.issue_client("conssl")
    with pytest.raises(WorkspaceError):
        pki.describe()


def test_key_types_constant() -> None:
    assert KEY_TYPES == ("ecdsa-p256", "rsa-2048", "rsa-3072", "rsa-4096")


# ------------------------------------------------------------------------------------------------------
# describe()
# ------------------------------------------------------------------------------------------------------


def test_describe(lab_pki: LabPKI) -> None:
    df = lab_pki.describe()
    for column in ("file", "role", "subject", "issuer", "serial", "sans", "not_before", "not_after",
                   "key", "is_ca", "revoked", "chain_verifies"):
        assert column in df.columns
    rows = df.set_index("file")
    assert len(rows) == 12
    expected_key = "EC P-256" if lab_pki.key_type == "ecdsa-p256" else "RSA 2048"
    assert set(rows["key"]) == {expected_key}
    assert set(rows.index[rows["is_ca"]]) == {"CA/root.crt", "CA/intermediate.crt", "CA/rogue-ca.crt"}
    assert list(rows.index[rows["revoked"]]) == ["certs/revoked-client.crt"]
    assert set(rows.index[~rows["chain_verifies"]]) == {
        "CA/rogue-ca.crt", "certs/rogue-client.crt", "certs/expired-client.crt",
    }
    assert rows.loc["certs/revoked-client.crt", "chain_verifies"]  # revoked is a CRL matter, not a chain one
    assert rows.loc["certs/server.crt", "role"] == "server" and rows.loc["certs/client.crt", "role"] == "client"
    assert rows.loc["CA/root.crt", "role"] == "root CA" and rows.loc["CA/intermediate.crt", "role"] == "intermediate CA"
    assert rows.loc["certs/server.crt", "sans"] == "DNS:localhost, IP:127.0.0.1"
    assert rows.loc["certs/client.crt", "sans"] == ""
    assert int(rows.loc["certs/server.crt", "serial"], 16) == cert(lab_pki.paths.server_crt).serial_number
    assert "CN=conssl" in rows.loc["certs/client.crt", "subject"]
    assert "Intermediate" in rows.loc["certs/client.crt", "issuer"]
    assert (df["not_before"] < df["not_after"]).all()


# ------------------------------------------------------------------------------------------------------
# Actions: revoke, issue_client, issue_server
# ------------------------------------------------------------------------------------------------------


def _revoked_serials(path: Path) -> set[int]:
    return {r.serial_number for r in crl(path)}


def test_revoke(fresh_pki: LabPKI) -> None:
    p = fresh_pki.paths
    assert _revoked_serials(p.root_crl) == set()
    assert _revoked_serials(p.intermediate_crl) == {cert(p.revoked_client_crt).serial_number}
    number_before = crl(p.intermediate_crl).extensions.get_extension_for_class(x509.CRLNumber).value.crl_number

    fresh_pki.revoke(p.server2_crt)
    fresh_pki.revoke(p.server_by_root_crt)
    fresh_pki.revoke(p.server2_crt)  # twice: harmless
    assert _revoked_serials(p.intermediate_crl) == {
        cert(p.revoked_client_crt).serial_number, cert(p.server2_crt).serial_number,
    }
    assert _revoked_serials(p.root_crl) == {cert(p.server_by_root_crt).serial_number}
    assert crl(p.intermediate_crl).extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > number_before
    combined = p.combined_crl.read_bytes()
    assert p.root_crl.read_bytes() in combined and p.intermediate_crl.read_bytes() in combined
    by_name = {q.name: q.read_bytes() for q in p.crl_dir.iterdir()}
    assert sorted(by_name.values()) == sorted([p.root_crl.read_bytes(), p.intermediate_crl.read_bytes()])
    for crl_path, ca_path in ((p.root_crl, p.root_crt), (p.intermediate_crl, p.intermediate_crt)):
        assert crl(crl_path).is_signature_valid(cert(ca_path).public_key())
    assert not crl(p.root_crl).is_signature_valid(cert(p.intermediate_crt).public_key())  # control

    df = fresh_pki.describe().set_index("file")
    assert set(df.index[df["revoked"]]) == {"certs/revoked-client.crt", "certs/server2.crt", "certs/server-by-root.crt"}
    # revocations survive reuse
    again = LabPKI.ensure(fresh_pki.root_dir)
    assert _revoked_serials(again.paths.root_crl) == {cert(p.server_by_root_crt).serial_number}

    if OPENSSL:
        base = ("-CAfile", p.root_crt, "-untrusted", p.intermediate_crt, "-crl_check_all")
        ok, out = openssl_verify(*base, "-CRLfile", p.combined_crl, p.server2_crt)
        assert not ok and "certificate revoked" in out
        ok, out = openssl_verify(*base, "-CApath", p.crl_dir, p.server_by_root_crt)
        assert not ok and "certificate revoked" in out
        ok, out = openssl_verify(*base, "-CApath", p.crl_dir, p.server_crt)  # control
        assert ok, out


def test_revoke_intermediate_lands_in_root_crl(fresh_pki: LabPKI) -> None:
    fresh_pki.revoke(fresh_pki.paths.intermediate_crt)
    assert _revoked_serials(fresh_pki.paths.root_crl) == {cert(fresh_pki.paths.intermediate_crt).serial_number}


@pytest.mark.parametrize("attr", ["rogue_client_crt", "rogue_ca_crt", "root_crt", "root_key"])
def test_revoke_refuses_foreign_certificates(fresh_pki: LabPKI, attr: str) -> None:
    before = fresh_pki.paths.intermediate_crl.read_bytes()
    with pytest.raises(InvalidValue) as info:
        fresh_pki.revoke(getattr(fresh_pki.paths, attr))
    assert info.value.name == "cert_path" and str(getattr(fresh_pki.paths, attr)) in str(info.value)
    assert fresh_pki.paths.intermediate_crl.read_bytes() == before


def test_issue_client(fresh_pki: LabPKI) -> None:
    crt, key = fresh_pki.issue_client("alice")
    root = fresh_pki.root_dir
    assert (crt, key) == (root / "certs/client-alice.crt", root / "private/client-alice.key")
    assert mode(key) == 0o600 and mode(crt) == 0o644
    c = cert(crt)
    assert c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    assert _eku(c) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    c.verify_directly_issued_by(cert(fresh_pki.paths.intermediate_crt))
    loaded = serialization.load_pem_private_key(key.read_bytes(), password=None)
    assert loaded.public_key() == c.public_key()
    crt2, _ = fresh_pki.issue_client("conssl", name="conssl-laptop")
    assert crt2.name == "conssl-laptop.crt"
    df = fresh_pki.describe().set_index("file")
    assert df.loc["certs/client-alice.crt", "chain_verifies"] and df.loc["certs/conssl-laptop.crt", "role"] == "client"
    assert LabPKI.ensure(fresh_pki.root_dir).describe().shape[0] == 14  # extras survive reuse
    with pytest.raises(InvalidValue):
        fresh_pki.issue_client("Not A Role")
    with pytest.raises(InvalidValue):
        fresh_pki.issue_client("alice", name="server")  # would overwrite the standard set
    with pytest.raises(InvalidValue):
        fresh_pki.issue_client("alice", name="../escape")


def test_issue_server(fresh_pki: LabPKI) -> None:
    crt, key = fresh_pki.issue_server(("db.example.test", "10.1.2.3"), name="db")
    c = cert(crt)
    assert c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "db.example.test"
    assert _sans(c) == [x509.DNSName("db.example.test"), x509.IPAddress(ipaddress.ip_address("10.1.2.3"))]
    assert _eku(c) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert mode(key) == 0o600
    first_serial = c.serial_number
    crt_again, _ = fresh_pki.issue_server(("db.example.test",), name="db")  # re-issue replaces
    assert cert(crt_again).serial_number != first_serial
    assert fresh_pki.describe()["file"].tolist().count("certs/db.crt") == 1
    if OPENSSL:
        p = fresh_pki.paths
        ok, out = openssl_verify("-CAfile", p.root_crt, "-untrusted", p.intermediate_crt, crt)
        assert ok, out
    with pytest.raises(InvalidValue) as info:
        fresh_pki.issue_server(("bad host!",), name="x")
    assert info.value.name == "names"
