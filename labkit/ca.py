"""A certificate authority with verbs: make a root, a child CA, server and client certificates, revoke, sign a CRL.

Why this module exists: a lesson or a user's own scenario needs a hierarchy built to make one point -- a
second intermediate, a server certificate for another name, a client signed straight by the root, a
revoked or expired leaf. :class:`CA` reads the way such a hierarchy is described::

    root = CA.root("Example Root")
    inter = root.child_ca("Example Intermediate")
    server = inter.issue_server_cert("localhost", "127.0.0.1")
    client = inter.issue_client_cert("conssl")
    inter.revoke(client.cert)
    crl = inter.crl()

Every certificate, CA or leaf, goes through one builder (:func:`_build_certificate`) so the extensions a
lesson talks about (BasicConstraints, KeyUsage, EKU, SAN, SKI/AKI) are set in exactly one place, and they
pass ``cryptography``'s own verifier. Objects live in memory; :meth:`Leaf.write` and :meth:`CA.write` put
them on disk (keys 0600). The course's fixed layout on top of this is :class:`labkit.pki.LabPKI`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store, VerificationError

from .errors import InvalidValue
from .paths import replace_file

__all__ = ["CA", "KEY_TYPES", "Leaf", "ORG", "certificate_facts", "generate_key", "openssl_name_hash", "verifies"]

KEY_TYPES: tuple[str, ...] = ("ecdsa-p256", "rsa-2048", "rsa-3072", "rsa-4096")
ORG = "pgtls-lab"
_DNS_LABEL_RE = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")

PrivateKey = Union[ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey]

# Validity. Leaves start an hour in the past so a container whose clock lags the host's a little still
# accepts a certificate made a second ago ("certificate is not yet valid" is not this course's lesson).
CA_LIFETIME = dt.timedelta(days=3650)
LEAF_LIFETIME = dt.timedelta(days=365)
CRL_LIFETIME = dt.timedelta(days=365)
BACKDATE = dt.timedelta(hours=1)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def check_key_type(key_type: object) -> str:
    if key_type not in KEY_TYPES:
        raise InvalidValue("key_type", key_type, KEY_TYPES, "ECDSA P-256 is the default and the fastest")
    return key_type  # type: ignore[return-value]


def generate_key(key_type: str) -> PrivateKey:
    """A new private key of ``key_type`` (one of :data:`KEY_TYPES`)."""
    if check_key_type(key_type) == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type.split("-")[1]))


def key_type_of(key: Any) -> str:
    """The :data:`KEY_TYPES` name of a key (private or public)."""
    public = key.public_key() if hasattr(key, "public_key") else key
    if isinstance(public, rsa.RSAPublicKey):
        return f"rsa-{public.key_size}"
    return "ecdsa-p256"


def key_label(public_key: Any) -> str:
    """'EC P-256' / 'RSA 3072': what the course tables show."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        nist = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
        return f"EC {nist.get(public_key.curve.name, public_key.curve.name)}"
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"RSA {public_key.key_size}"
    return type(public_key).__name__


def name(common_name: str, org: str = ORG) -> x509.Name:
    """The subject the lab uses: O=<org>, CN=<common_name>."""
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_dns_name(name: str) -> bool:
    """A host name as RFC 1123 allows it; an all-digit last label is a mistyped IP address, not a name."""
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    return all(_DNS_LABEL_RE.fullmatch(label) for label in labels) and not labels[-1].isdigit()


def check_server_names(names: object, param: str = "server_names") -> tuple[str, ...]:
    allowed = "a non-empty tuple of DNS names or IP addresses"
    if isinstance(names, (str, bytes)) or not isinstance(names, Iterable):
        raise InvalidValue(param, names, allowed, "pass a tuple, e.g. ('localhost', '127.0.0.1')")
    result = tuple(names)
    if not result:
        raise InvalidValue(param, result, allowed, "the server certificate needs at least one name")
    for name in result:
        if not isinstance(name, str) or not (is_ip(name) or is_dns_name(name)):
            raise InvalidValue(
                param, name, allowed, "use a host name such as 'db.example.test' or an IP such as '127.0.0.1'"
            )
    if len({n.lower() for n in result}) != len(result):
        raise InvalidValue(param, result, allowed, "each name may appear only once")
    return result



def general_name(text: str) -> x509.DNSName | x509.IPAddress:
    return x509.IPAddress(ipaddress.ip_address(text)) if is_ip(text) else x509.DNSName(text)


def directly_issued(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` signed ``cert`` (a certificate is not counted as issuing itself)."""
    if cert.issuer != issuer.subject or cert == issuer:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def pem(obj: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return obj.public_bytes(serialization.Encoding.PEM)


COURSE_WRONG_PASSPHRASE = b"not-the-passphrase"
"""The wrong passphrase the course tries (lesson 33's server, lesson 35's client, the catalogue tests)."""


def key_pem(key: PrivateKey, passphrase: bytes | None = None) -> bytes:
    """PKCS#8 PEM; encrypted (PBES2/AES-256) when a passphrase is given, which OpenSSL and PostgreSQL read.

    Why the loop: decrypting with a wrong passphrase yields random bytes, and about one key in 300 (measured:
    5 in 1,500) ends in a block whose padding happens to be valid. OpenSSL then reports its DER decoder's
    word (``wrong tag`` with 1.1.1, ``unsupported`` with 3) instead of ``bad decrypt``. A lesson must show
    the same words on every run, so an encrypted key is written again (new salt and IV) until
    :data:`COURSE_WRONG_PASSPHRASE` fails at the padding check -- the common case, which cryptography reports
    as an incorrect password. Lesson 33 names the rare case."""
    if not passphrase:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    for _ in range(64):
        encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(passphrase))
        if passphrase == COURSE_WRONG_PASSPHRASE or wrong_passphrase_fails_at_padding(encrypted):
            return encrypted
    raise RuntimeError("64 encryptions in a row decrypted cleanly under the wrong passphrase")  # pragma: no cover


def wrong_passphrase_fails_at_padding(encrypted: bytes) -> bool:
    """Whether :data:`COURSE_WRONG_PASSPHRASE` fails at the padding check (OpenSSL: ``bad decrypt``)."""
    try:
        serialization.load_pem_private_key(encrypted, COURSE_WRONG_PASSPHRASE)
    except ValueError as exc:
        return "password" in str(exc).lower()  # "Incorrect password, could not decrypt key"; else a decode error
    except TypeError:
        return False
    return False


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def load_key(path: Path, password: bytes | None = None) -> PrivateKey:
    # Our own keys: skipping the slow RSA consistency check is safe and makes revoke/issue fast.
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=password,
                                             unsafe_skip_rsa_key_validation=True)
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise InvalidValue("key", str(path), "an EC or RSA private key")
    return key


def write_file(path: Path, data: bytes, mode: int, *, atomic: bool = False) -> None:
    """Write with an explicit mode (whatever the umask). ``atomic`` for files a running server may be reading
    (:func:`labkit.paths.replace_file`).

    No fsync: these are throw-away lab files, and a crash mid-write leaves no manifest, so the next
    ``LabPKI.ensure`` regenerates everything anyway.
    """
    if atomic:
        replace_file(path, data, mode)
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------------------------
# The one builder
# --------------------------------------------------------------------------------------------------------


def _build_certificate(*, subject: x509.Name, key: PrivateKey, issuer: CA | None, not_before: dt.datetime,
                       not_after: dt.datetime, ca_path_length: int | None = None, is_ca: bool = False,
                       purpose: x509.ObjectIdentifier | None = None, sans: Sequence[str] = ()) -> x509.Certificate:
    """The one place certificates are made, so CA and leaf extensions cannot drift apart.

    ``issuer=None`` makes a self-signed certificate (a root). CAs get critical BasicConstraints with the given
    path length and critical keyCertSign+cRLSign; leaves get BasicConstraints(ca=False), digitalSignature
    (plus keyEncipherment for RSA, which RSA key exchange in TLS 1.2 needs), one EKU and optional SANs.
    """
    public_key = key.public_key()
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())  # 159 random bits: unique without keeping a counter
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=ca_path_length if is_ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), critical=False)
    )
    rsa_key = isinstance(key, rsa.RSAPrivateKey)
    builder = builder.add_extension(
        x509.KeyUsage(digital_signature=not is_ca, content_commitment=False, key_encipherment=rsa_key and not is_ca,
                      data_encipherment=False, key_agreement=False, key_cert_sign=is_ca, crl_sign=is_ca,
                      encipher_only=False, decipher_only=False),
        critical=True,
    )
    if purpose is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([general_name(n) for n in sans]), critical=False)
    return builder.sign(signer_key, hashes.SHA256())


# --------------------------------------------------------------------------------------------------------
# Objects with verbs
# --------------------------------------------------------------------------------------------------------


@dataclass
class Leaf:
    """An issued end-entity certificate and its private key."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def serial(self) -> str:
        """The serial in lower-case hex, as ``openssl x509 -serial`` prints it."""
        return f"{self.cert.serial_number:x}"

    def cert_pem(self, *chain: x509.Certificate) -> bytes:
        """The certificate as PEM, followed by ``chain`` (e.g. the intermediate, for a chain file)."""
        return b"".join(pem(c) for c in (self.cert, *chain))

    def key_pem(self, passphrase: bytes | None = None) -> bytes:
        return key_pem(self.key, passphrase)

    def write(self, crt_path: Path, key_path: Path, *, chain: Sequence[x509.Certificate] = (),
              passphrase: bytes | None = None, atomic: bool = False) -> tuple[Path, Path]:
        """Write the certificate (0644, followed by ``chain``) and the key (0600, encrypted with
        ``passphrase`` if given); return both paths."""
        write_file(Path(key_path), self.key_pem(passphrase), 0o600, atomic=atomic)
        write_file(Path(crt_path), self.cert_pem(*chain), 0o644, atomic=atomic)
        return Path(crt_path), Path(key_path)


@dataclass
class CA:
    """A certificate authority that can sign: its certificate, its key, and the serials it has revoked.

    Leaves and child CAs get a new key of ``key_type`` each (never shared). Times default to "now", leaves
    back-dated by an hour (see :data:`BACKDATE`).
    """

    cert: x509.Certificate
    key: PrivateKey
    key_type: str = "ecdsa-p256"
    revoked: list[tuple[int, dt.datetime]] = field(default_factory=list)

    # -- making one --------------------------------------------------------------------------------
    @classmethod
    def root(cls, common_name: str = "pgtls-lab Root CA", *, org: str = ORG, key_type: str = "ecdsa-p256",
             path_length: int | None = 1, not_before: dt.datetime | None = None,
             lifetime: dt.timedelta = CA_LIFETIME) -> CA:
        """A new self-signed root CA (``path_length`` CAs may follow below it; None = no limit)."""
        start = not_before or _utcnow() - BACKDATE
        key = generate_key(key_type)
        cert = _build_certificate(subject=name(common_name, org), key=key, issuer=None, is_ca=True,
                                  ca_path_length=path_length, not_before=start, not_after=start + lifetime)
        return cls(cert, key, key_type)

    @classmethod
    def load(cls, crt_path: Path, key_path: Path) -> CA:
        """A CA from its PEM certificate and (unencrypted) key files."""
        key = load_key(key_path)
        return cls(load_cert(crt_path), key, key_type_of(key))

    def child_ca(self, common_name: str, *, org: str | None = None, path_length: int | None = 0,
                 not_before: dt.datetime | None = None, lifetime: dt.timedelta = CA_LIFETIME) -> CA:
        """A CA signed by this one (an intermediate)."""
        start = not_before or _utcnow() - BACKDATE
        key = generate_key(self.key_type)
        cert = _build_certificate(subject=name(common_name, org or self.org), key=key, issuer=self, is_ca=True,
                                  ca_path_length=path_length, not_before=start, not_after=start + lifetime)
        return CA(cert, key, self.key_type)

    # -- issuing -----------------------------------------------------------------------------------
    @property
    def org(self) -> str:
        values = self.cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        return str(values[0].value) if values else ORG

    def _leaf(self, subject: x509.Name, purpose: x509.ObjectIdentifier, sans: Sequence[str],
              not_before: dt.datetime | None, not_after: dt.datetime | None) -> Leaf:
        start = not_before or _utcnow() - BACKDATE
        end = not_after or start + LEAF_LIFETIME
        key = generate_key(self.key_type)
        return Leaf(_build_certificate(subject=subject, key=key, issuer=self, not_before=start, not_after=end,
                                       purpose=purpose, sans=sans), key)

    def issue_server_cert(self, *names: str, org: str | None = None, not_before: dt.datetime | None = None,
                          not_after: dt.datetime | None = None) -> Leaf:
        """A server certificate for ``names`` (DNS names or IP addresses, all in the SAN; CN = the first)."""
        check_server_names(names, "names")
        return self._leaf(name(names[0], org or self.org), ExtendedKeyUsageOID.SERVER_AUTH, names, not_before,
                          not_after)

    def issue_client_cert(self, common_name: str, *, org: str | None = None, not_before: dt.datetime | None = None,
                          not_after: dt.datetime | None = None) -> Leaf:
        """A client certificate whose CN is ``common_name`` (PostgreSQL's ``cert`` method maps it to a role)."""
        if not isinstance(common_name, str) or not common_name:
            raise InvalidValue("common_name", common_name, "a non-empty name, e.g. a role name")
        return self._leaf(name(common_name, org or self.org), ExtendedKeyUsageOID.CLIENT_AUTH, (), not_before,
                          not_after)

    def issue_cert(self, subject: x509.Name | str, *, purpose: str, sans: Sequence[str] = (),
                   not_before: dt.datetime | None = None, not_after: dt.datetime | None = None) -> Leaf:
        """A leaf with a subject of your choosing (an RFC 4514 string such as ``"CN=db,OU=ops,O=acme"`` or an
        ``x509.Name``) and exactly ``sans`` -- none at all is allowed, for the cases the standard certificates
        cannot show: a server certificate without SAN (libpq then matches the CN), a DN that
        ``clientname=DN`` maps, a validity window in the past or future. ``purpose``: server or client."""
        purposes = {"server": ExtendedKeyUsageOID.SERVER_AUTH, "client": ExtendedKeyUsageOID.CLIENT_AUTH}
        if purpose not in purposes:
            raise InvalidValue("purpose", purpose, tuple(purposes))
        if isinstance(subject, str):
            try:
                subject = x509.Name.from_rfc4514_string(subject)
            except ValueError as exc:
                raise InvalidValue("subject", subject, "an RFC 4514 name such as 'CN=db.example,O=acme'",
                                   str(exc)) from None
        if not isinstance(subject, x509.Name) or not len(subject):
            raise InvalidValue("subject", subject, "a non-empty RFC 4514 string or x509.Name")
        if sans:
            check_server_names(sans, "sans")
        if not_before is not None and not_after is not None and not_after <= not_before:
            raise InvalidValue("not_after", not_after.isoformat(),
                               f"a time after not_before ({not_before.isoformat()})")
        return self._leaf(subject, purposes[purpose], tuple(sans), not_before, not_after)

    # -- revocation --------------------------------------------------------------------------------
    def issued(self, cert: x509.Certificate) -> bool:
        """Whether this CA signed ``cert`` (and ``cert`` is not this CA itself)."""
        return directly_issued(cert, self.cert)

    def revoke(self, cert: x509.Certificate, when: dt.datetime | None = None) -> None:
        """Add ``cert``'s serial to this CA's revocation list (:meth:`crl` then lists it); twice is harmless."""
        if not self.issued(cert):
            raise InvalidValue("cert", cert.subject.rfc4514_string(), f"a certificate issued by "
                               f"{self.cert.subject.rfc4514_string()}")
        if all(serial != cert.serial_number for serial, _ in self.revoked):
            self.revoked.append((cert.serial_number, when or _utcnow()))

    def crl(self, *, number: int = 1, now: dt.datetime | None = None,
            revoked: Iterable[tuple[int, dt.datetime]] | None = None) -> x509.CertificateRevocationList:
        """A CRL signed by this CA listing :attr:`revoked` (or ``revoked``). OpenSSL's crl_check_all wants
        one per CA in the chain, even an empty one."""
        at = now or _utcnow()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(at - BACKDATE)
            .next_update(at + CRL_LIFETIME)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .add_extension(x509.CRLNumber(number), critical=False)
        )
        for serial, when in (self.revoked if revoked is None else revoked):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
        return builder.sign(self.key, hashes.SHA256())

    def write(self, crt_path: Path, key_path: Path | None = None, *, atomic: bool = False) -> Path:
        """Write the CA certificate (0644) and, when ``key_path`` is given, its key (0600)."""
        if key_path is not None:
            write_file(Path(key_path), key_pem(self.key), 0o600, atomic=atomic)
        write_file(Path(crt_path), pem(self.cert), 0o644, atomic=atomic)
        return Path(crt_path)


# --------------------------------------------------------------------------------------------------------
# Verifying and describing
# --------------------------------------------------------------------------------------------------------


def verifies(cert: x509.Certificate, role: str, root: x509.Certificate,
             intermediates: Sequence[x509.Certificate] = (), at: dt.datetime | None = None) -> bool:
    """Whether ``cert`` chains to ``root`` with cryptography's verifier (signatures, dates, EKU, names).

    Servers are checked against their first SAN; clients as clients, a SAN allowed to be absent (PostgreSQL
    matches the CN); CA certificates by signature to ``root`` and their validity dates. Revocation is not
    part of it (see :func:`certificate_facts`).
    """
    now = at or dt.datetime.now(dt.timezone.utc)
    if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            return False
        return cert == root or directly_issued(cert, root)
    store = Store([root])
    try:
        if role == "server":
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            first = next(iter(sans))
            subject = x509.IPAddress(first.value) if isinstance(first, x509.IPAddress) else x509.DNSName(first.value)
            PolicyBuilder().store(store).time(now).build_server_verifier(subject).verify(cert, list(intermediates))
        else:
            client_ee = ExtensionPolicy.webpki_defaults_ee().may_be_present(
                x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
            (PolicyBuilder().store(store).time(now)
             .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=client_ee)
             .build_client_verifier().verify(cert, list(intermediates)))
    except (VerificationError, x509.ExtensionNotFound, StopIteration):
        return False
    return True


def certificate_facts(cert: x509.Certificate, role: str, root: x509.Certificate,
                      intermediates: Sequence[x509.Certificate] = (),
                      crls: Sequence[x509.CertificateRevocationList] = ()) -> dict[str, Any]:
    """What a PKI table shows about one certificate: names, dates, key, whether a CRL lists it, and
    whether it verifies (:func:`verifies`)."""
    try:
        san_ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        san_text = ", ".join(f"{'IP' if isinstance(g, x509.IPAddress) else 'DNS'}:{g.value}" for g in san_ext)
    except x509.ExtensionNotFound:
        san_text = ""
    revoked = any(crl.issuer == cert.issuer and crl.get_revoked_certificate_by_serial_number(cert.serial_number)
                  is not None for crl in crls)
    return {"subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
            "serial": f"{cert.serial_number:x}", "sans": san_text, "not_before": cert.not_valid_before_utc,
            "not_after": cert.not_valid_after_utc, "key": key_label(cert.public_key()),
            "is_ca": cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca,
            "revoked": revoked, "chain_verifies": verifies(cert, role, root, intermediates)}


# --------------------------------------------------------------------------------------------------------
# OpenSSL's subject hash (for the ssl_crl_dir file names)
# --------------------------------------------------------------------------------------------------------
# String types OpenSSL canonicalises (ASN1_MASK_CANON), and how each one's bytes map to characters.
_CANON_STRING_TYPES = {
    0x0C: "utf-8",  # UTF8String
    0x13: "latin-1",  # PrintableString
    0x14: "latin-1",  # T61String (OpenSSL treats it as one byte per character)
    0x16: "latin-1",  # IA5String
    0x1A: "latin-1",  # VisibleString
    0x1C: "utf-32-be",  # UniversalString
    0x1E: "utf-16-be",  # BMPString
}
_ASCII_SPACE = b" \t\n\v\f\r"


def _der_read(data: bytes, pos: int) -> tuple[int, int, int]:
    """Read one DER TLV header at ``pos``: (tag byte, start of contents, end of contents)."""
    tag = data[pos]
    pos += 1
    if tag & 0x1F == 0x1F:  # high tag number: skip its continuation bytes
        while data[pos] & 0x80:
            pos += 1
        pos += 1
    length = data[pos]
    pos += 1
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    return tag, pos, pos + length


def _der_tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _der_children(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """(tag, header start, content start, content end) of each element between ``start`` and ``end``."""
    pos = start
    while pos < end:
        tag, body, stop = _der_read(data, pos)
        yield tag, pos, body, stop
        pos = stop


def _canon_value(raw: bytes, codec: str) -> bytes:
    """OpenSSL's asn1_string_canon: UTF-8, trim, collapse ASCII white space, lower-case ASCII letters."""
    text = raw.decode(codec).encode("utf-8").strip(_ASCII_SPACE)
    out = bytearray()
    i = 0
    while i < len(text):
        byte = text[i]
        if byte in _ASCII_SPACE:
            out.append(0x20)
            while i < len(text) and text[i] in _ASCII_SPACE:
                i += 1
            continue
        out.append(byte + 32 if 0x41 <= byte <= 0x5A else byte)
        i += 1
    return bytes(out)


def openssl_name_hash(name: x509.Name) -> str:
    """OpenSSL's ``X509_NAME_hash`` of ``name`` as 8 hex digits (``openssl x509 -subject_hash``).

    ``ssl_crl_dir`` (like ``-CApath``) finds a CRL by this hash of its issuer, in a file ``<hash>.r<n>``.
    OpenSSL hashes a *canonical* encoding, not the DER: each RDN's SET re-encoded with string values turned
    into lower-cased, space-collapsed UTF8Strings, the SETs concatenated without the outer SEQUENCE; then
    SHA-1, of which the first four bytes read little-endian are the hash.
    """
    der = name.public_bytes()
    _, body, end = _der_read(der, 0)  # Name ::= SEQUENCE OF RelativeDistinguishedName
    canon = bytearray()
    for _, _, rdn_body, rdn_end in _der_children(der, body, end):  # RDN ::= SET OF AttributeTypeAndValue
        entries = []
        for _, _, atv_body, atv_end in _der_children(der, rdn_body, rdn_end):
            (_, oid_start, _, oid_end), (vtag, vstart, vbody, vend) = list(_der_children(der, atv_body, atv_end))[:2]
            codec = _CANON_STRING_TYPES.get(vtag)
            value = _der_tlv(0x0C, _canon_value(der[vbody:vend], codec)) if codec else der[vstart:vend]
            entries.append(_der_tlv(0x30, der[oid_start:oid_end] + value))
        canon += _der_tlv(0x31, b"".join(sorted(entries)))  # DER orders SET OF by encoding
    digest = hashlib.sha1(bytes(canon)).digest()
    return f"{int.from_bytes(digest[:4], 'little'):08x}"
