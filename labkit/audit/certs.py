"""The server's certificate chain as served, judged the way a verifying client would judge it.

The chain comes from the handshake (sslyze's certificate scan); nothing here opens a connection. Chain
building and validity use ``cryptography``'s own verifier: trust anchors are the self-signed certificates of
the CA bundle the user gives, and intermediates are what the server sent -- and, for the second question,
what the bundle holds too. Asking both tells a *missing intermediate* (a client that trusts only the root
fails) from a chain that does not lead to the root at all. Names are checked separately against the host the
client connects to, as libpq's ``sslmode=verify-full`` does (an IP address must be in an IP SAN).
"""
from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError


@dataclass(frozen=True)
class Validation:
    """Whether the chain validates, and with which intermediates."""

    ok: bool | None
    """None when there was nothing to validate against (no CA bundle given)."""
    message: str


def load_bundle(path: Path) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle (``sslrootcert``/``--root``)."""
    return x509.load_pem_x509_certificates(path.read_bytes())


def is_self_signed(cert: x509.Certificate) -> bool:
    """Self-issued and verifiable with its own key: a root, or a bootstrap certificate."""
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:  # noqa: BLE001 - cryptography raises several types for a signature that does not verify
        return False
    return True


def issued_by_any(cert: x509.Certificate, issuers: list[x509.Certificate]) -> bool:
    """Whether one of ``issuers`` signed ``cert`` (name and signature both checked)."""
    for issuer in issuers:
        if issuer.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(issuer)
        except Exception:  # noqa: BLE001 - InvalidSignature, ValueError, TypeError for other key types
            continue
        return True
    return False


def key_label(cert: x509.Certificate) -> tuple[str, int]:
    """``("RSA", 2048)``, ``("EC secp256r1", 256)``, ``("Ed25519", 256)`` ..."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    return type(key).__name__, 0


def signature_label(cert: x509.Certificate) -> str:
    """The signature's hash (``sha256``), or the algorithm when it has none built in (``ed25519``)."""
    algorithm = cert.signature_hash_algorithm
    if algorithm is not None:
        return algorithm.name
    return cert.signature_algorithm_oid._name  # noqa: SLF001 - cryptography's own readable name for the OID


def subject_alt_names(cert: x509.Certificate) -> list[str]:
    """``DNS:localhost``, ``IP:127.0.0.1`` ... as OpenSSL prints them."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names = [f"DNS:{name}" for name in ext.get_values_for_type(x509.DNSName)]
    names += [f"IP:{address}" for address in ext.get_values_for_type(x509.IPAddress)]
    return names


def describe(cert: x509.Certificate, now: dt.datetime) -> dict[str, object]:
    """One certificate as the report shows it (no key material, only public facts)."""
    kind, bits = key_label(cert)
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": f"{cert.serial_number:x}",
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "days_left": days_left(cert, now),
        "key": kind,
        "key_bits": bits,
        "signature": signature_label(cert),
        "subject_alt_names": subject_alt_names(cert),
        "self_signed": is_self_signed(cert),
        "sha256": cert.fingerprint(_sha256()).hex(":"),
    }


def days_left(cert: x509.Certificate, now: dt.datetime) -> int:
    """Whole days until ``notAfter`` (negative once expired)."""
    return (cert.not_valid_after_utc - now) // dt.timedelta(days=1)


def name_matches(cert: x509.Certificate, host: str) -> bool:
    """Whether ``host`` is in the SAN (an IP must be an IP SAN; DNS names match case-insensitively,
    with a single leftmost ``*`` label) -- libpq falls back to the CN only when there is no DNS SAN at all."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        ext = None
    if address is not None:
        return ext is not None and address in ext.get_values_for_type(x509.IPAddress)
    dns = [name.lower() for name in ext.get_values_for_type(x509.DNSName)] if ext is not None else []
    if not dns:
        dns = [str(a.value).lower() for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    wanted = host.lower().rstrip(".")
    for pattern in dns:
        if pattern == wanted:
            return True
        if pattern.startswith("*.") and "." in wanted and wanted.split(".", 1)[1] == pattern[2:]:
            return True
    return False


def validate(chain: list[x509.Certificate], bundle: list[x509.Certificate] | None,
             now: dt.datetime) -> Validation:
    """Validate the served chain against the bundle's roots, with the bundle's intermediates too: what a
    libpq client holding that file as ``sslrootcert`` sees."""
    if bundle is None:
        return Validation(None, "no CA bundle given (--root, or sslrootcert= in the target)")
    if not chain:
        return Validation(False, "the server sent no certificate")
    anchors = [cert for cert in bundle if is_self_signed(cert)]
    if not anchors:
        return Validation(False, "the CA bundle holds no self-signed root to anchor a chain")
    extra = [cert for cert in bundle if not is_self_signed(cert)]
    leaf, served = chain[0], chain[1:]
    if is_self_signed(leaf) and leaf not in anchors:
        return Validation(False, "the server's certificate is self-signed and is not a root of the bundle")
    if not any(cert.subject == leaf.issuer for cert in [*served, *bundle]):
        return Validation(False, f"its issuer {leaf.issuer.rfc4514_string()} is neither sent by the server nor "
                                 "in the bundle")
    problem = _verify(leaf, served + extra, anchors, now)
    if problem is not None:
        return Validation(False, problem)
    return Validation(True, "the chain leads to a root of the bundle")


def _verify(leaf: x509.Certificate, intermediates: list[x509.Certificate], anchors: list[x509.Certificate],
            now: dt.datetime) -> str | None:
    """None when the chain verifies, else the verifier's reason. The leaf is checked for its own first SAN,
    so this answers "does the chain hold" and leaves host names to :func:`name_matches`."""
    names = subject_alt_names(leaf)
    if not names:
        return "the certificate has no subjectAltName, so no client library can check its name"
    kind, value = names[0].split(":", 1)
    subject: x509.DNSName | x509.IPAddress = (x509.IPAddress(ipaddress.ip_address(value)) if kind == "IP"
                                               else x509.DNSName(value))
    verifier = PolicyBuilder().store(Store(anchors)).time(now).build_server_verifier(subject)
    try:
        verifier.verify(leaf, intermediates)
    except VerificationError as exc:
        return str(exc)
    return None


def to_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _sha256():  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()
