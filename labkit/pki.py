"""The lab's certificate authority: every certificate, key and CRL the course needs, made in-process.

Why this module exists: the course teaches what each TLS setting defends against, and every lesson needs
a certificate built to make one point -- a chain that verifies, a host name that does not match, a client
that was revoked, one that expired, one from a stranger's CA. Making them with ``openssl`` one command at a
time is slow, differs between OpenSSL versions, and hides the structure the lesson is about. Here one
object, :class:`LabPKI`, owns a directory laid out like the course guide's ``/tmp/pki`` tree::

    <root>/CA/        root.crt intermediate.crt combined.crt rogue-ca.crt *.crl crl/<hash>.r0
    <root>/certs/     server.crt server-chain.crt client.crt ... (0644)
    <root>/private/   *.key passphrase.txt                     (dir 0700, files 0600)
    <root>/manifest.json

Every certificate, CA or leaf, goes through one builder (:func:`_build_certificate`) so the extensions a
lesson talks about (BasicConstraints, KeyUsage, EKU, SAN, SKI/AKI) are set in exactly one place.

``LabPKI.ensure`` is cheap to call from every notebook: it reuses the files when the manifest says they were
made for the same parameters and nothing has expired, and regenerates the whole tree otherwise.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from .errors import InvalidValue, WorkspaceError

try:  # POSIX only; the lab runs PostgreSQL on Linux, but importing the module elsewhere should not fail.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["KEY_TYPES", "LabPKI", "PKIPaths", "openssl_name_hash"]

KEY_TYPES: tuple[str, ...] = ("ecdsa-p256", "rsa-2048", "rsa-3072", "rsa-4096")

PrivateKey = Union[ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey]

_MANIFEST_FORMAT = 1
_ORG = "pgtls-lab"
_ROGUE_ORG = "not-pgtls-lab"
_WRONG_HOST = "db.wrong-host.example"

# Validity. Leaves start an hour in the past so a container whose clock lags the host's a little still
# accepts a certificate made a second ago ("certificate is not yet valid" is not this course's lesson).
_CA_LIFETIME = dt.timedelta(days=3650)
_LEAF_LIFETIME = dt.timedelta(days=365)
_CRL_LIFETIME = dt.timedelta(days=365)
_BACKDATE = dt.timedelta(hours=1)
# Reuse only files that stay valid for at least this long, so a lesson does not fail half way through.
_REUSE_MARGIN = dt.timedelta(days=1)

_ROLE_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_STEM_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_DNS_LABEL_RE = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def _now() -> dt.datetime:
    """The current time, whole seconds (X.509 has no fractions); a function so tests can move the clock."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


# --------------------------------------------------------------------------------------------------------
# File layout
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PKIPaths:
    """Where each file of the lab PKI lives. Attribute names are the API the notebooks code against."""

    root_crt: Path
    root_key: Path
    intermediate_crt: Path
    intermediate_key: Path
    combined_crt: Path
    server_crt: Path
    server_key: Path
    server_chain_crt: Path
    server2_crt: Path
    server2_key: Path
    wrong_host_crt: Path
    wrong_host_key: Path
    server_by_root_crt: Path
    server_by_root_key: Path
    server_encrypted_key: Path
    passphrase_file: Path
    client_crt: Path
    client_key: Path
    client_chain_crt: Path
    client2_crt: Path
    client2_key: Path
    revoked_client_crt: Path
    revoked_client_key: Path
    expired_client_crt: Path
    expired_client_key: Path
    rogue_ca_crt: Path
    rogue_client_crt: Path
    rogue_client_key: Path
    root_crl: Path
    intermediate_crl: Path
    combined_crl: Path
    crl_dir: Path

    @classmethod
    def under(cls, root: Path) -> PKIPaths:
        """The layout below ``root``: CA material in ``CA/``, leaf certificates in ``certs/``, keys in ``private/``."""
        ca, certs, private = root / "CA", root / "certs", root / "private"
        return cls(
            root_crt=ca / "root.crt",
            root_key=private / "root.key",
            intermediate_crt=ca / "intermediate.crt",
            intermediate_key=private / "intermediate.key",
            combined_crt=ca / "combined.crt",
            server_crt=certs / "server.crt",
            server_key=private / "server.key",
            server_chain_crt=certs / "server-chain.crt",
            server2_crt=certs / "server2.crt",
            server2_key=private / "server2.key",
            wrong_host_crt=certs / "wrong-host.crt",
            wrong_host_key=private / "wrong-host.key",
            server_by_root_crt=certs / "server-by-root.crt",
            server_by_root_key=private / "server-by-root.key",
            server_encrypted_key=private / "server-encrypted.key",
            passphrase_file=private / "passphrase.txt",
            client_crt=certs / "client.crt",
            client_key=private / "client.key",
            client_chain_crt=certs / "client-chain.crt",
            client2_crt=certs / "client2.crt",
            client2_key=private / "client2.key",
            revoked_client_crt=certs / "revoked-client.crt",
            revoked_client_key=private / "revoked-client.key",
            expired_client_crt=certs / "expired-client.crt",
            expired_client_key=private / "expired-client.key",
            rogue_ca_crt=ca / "rogue-ca.crt",
            rogue_client_crt=certs / "rogue-client.crt",
            rogue_client_key=private / "rogue-client.key",
            root_crl=ca / "root.crl",
            intermediate_crl=ca / "intermediate.crl",
            combined_crl=ca / "combined.crl",
            crl_dir=ca / "crl",
        )

    def all(self) -> dict[str, Path]:
        """Every path by attribute name (used to check that a reused tree is complete)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class _CertFile:
    """One single-certificate file of the standard set, and what it is for (shown by ``describe``)."""

    attr: str
    role: str
    lesson: str


# The single-certificate files, in the order describe() lists them. Bundles (combined.crt, *-chain.crt)
# are not here: they repeat certificates listed on their own.
_CERT_FILES: tuple[_CertFile, ...] = (
    _CertFile("root_crt", "root CA", "trust anchor (ssl_ca_file / sslrootcert)"),
    _CertFile("intermediate_crt", "intermediate CA", "issues the lab's leaf certificates"),
    _CertFile("server_crt", "server", "main server certificate"),
    _CertFile("server2_crt", "server", "second server certificate, for the rotation lesson"),
    _CertFile("wrong_host_crt", "server", "names only db.wrong-host.example: host name mismatch"),
    _CertFile("server_by_root_crt", "server", "issued directly by the root, no intermediate"),
    _CertFile("client_crt", "client", "main client certificate (CN = first role)"),
    _CertFile("client2_crt", "client", "client certificate for the second role"),
    _CertFile("revoked_client_crt", "client", "listed in the intermediate CRL"),
    _CertFile("expired_client_crt", "client", "validity ended yesterday"),
    _CertFile("rogue_ca_crt", "rogue CA", "self-signed CA unrelated to the lab root"),
    _CertFile("rogue_client_crt", "client", "issued by the rogue CA: untrusted issuer"),
)
_EXPIRED_BY_DESIGN = "expired_client_crt"

# File stems the standard set uses; extra certificates may not take them.
_RESERVED_STEMS = frozenset(
    p.name.split(".")[0] for p in PKIPaths.under(Path("/")).all().values()
) | {"manifest", "combined"}


# --------------------------------------------------------------------------------------------------------
# Input validation (before anything touches the disk)
# --------------------------------------------------------------------------------------------------------


def _check_key_type(key_type: object) -> str:
    if key_type not in KEY_TYPES:
        raise InvalidValue("key_type", key_type, KEY_TYPES, "ECDSA P-256 is the default and the fastest")
    return key_type  # type: ignore[return-value]


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _is_dns_name(name: str) -> bool:
    """A host name as RFC 1123 allows it; an all-digit last label is a mistyped IP address, not a name."""
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    return all(_DNS_LABEL_RE.fullmatch(label) for label in labels) and not labels[-1].isdigit()


def _check_server_names(names: object, param: str = "server_names") -> tuple[str, ...]:
    allowed = "a non-empty tuple of DNS names or IP addresses"
    if isinstance(names, (str, bytes)) or not isinstance(names, Iterable):
        raise InvalidValue(param, names, allowed, "pass a tuple, e.g. ('localhost', '127.0.0.1')")
    result = tuple(names)
    if not result:
        raise InvalidValue(param, result, allowed, "the server certificate needs at least one name")
    for name in result:
        if not isinstance(name, str) or not (_is_ip(name) or _is_dns_name(name)):
            raise InvalidValue(
                param, name, allowed, "use a host name such as 'db.example.test' or an IP such as '127.0.0.1'"
            )
    if len({n.lower() for n in result}) != len(result):
        raise InvalidValue(param, result, allowed, "each name may appear only once")
    return result


def _check_role(role: object, param: str = "role") -> str:
    if not isinstance(role, str) or not _ROLE_RE.fullmatch(role):
        raise InvalidValue(
            param, role, "a PostgreSQL role name: lower-case letters, digits and _, not starting with a digit",
            "cert authentication matches the certificate's CN to the role name, so it must be a plain identifier",
        )
    return role


def _check_roles(roles: object) -> tuple[str, ...]:
    allowed = "a non-empty tuple of distinct PostgreSQL role names"
    if isinstance(roles, (str, bytes)) or not isinstance(roles, Iterable):
        raise InvalidValue("client_roles", roles, allowed, "pass a tuple, e.g. ('conssl', 'reporter')")
    result = tuple(roles)
    if not result:
        raise InvalidValue("client_roles", result, allowed)
    for role in result:
        _check_role(role, "client_roles")
    if len(set(result)) != len(result):
        raise InvalidValue("client_roles", result, allowed, "each role may appear only once")
    return result


def _check_stem(name: object) -> str:
    if not isinstance(name, str) or not _STEM_RE.fullmatch(name) or name in _RESERVED_STEMS:
        raise InvalidValue(
            "name", name, "a file name stem of letters, digits, '.', '_' or '-' not used by the standard set",
            f"the standard set already uses {', '.join(sorted(_RESERVED_STEMS))}",
        )
    return name


# --------------------------------------------------------------------------------------------------------
# Keys, certificates, CRLs
# --------------------------------------------------------------------------------------------------------


def _generate_key(key_type: str) -> PrivateKey:
    if key_type == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type.split("-")[1]))


def _key_label(public_key: Any) -> str:
    """'EC P-256' / 'RSA 3072': what the course tables show."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        nist = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
        return f"EC {nist.get(public_key.curve.name, public_key.curve.name)}"
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"RSA {public_key.key_size}"
    return type(public_key).__name__


def _name(common_name: str, org: str = _ORG) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _general_name(name: str) -> x509.DNSName | x509.IPAddress:
    return x509.IPAddress(ipaddress.ip_address(name)) if _is_ip(name) else x509.DNSName(name)


@dataclass(frozen=True)
class _CA:
    """A certificate authority that can sign: its certificate and its private key."""

    cert: x509.Certificate
    key: PrivateKey


def _build_certificate(
    *,
    subject: x509.Name,
    key: PrivateKey,
    issuer: _CA | None,
    not_before: dt.datetime,
    not_after: dt.datetime,
    ca_path_length: int | None = None,
    is_ca: bool = False,
    purpose: x509.ObjectIdentifier | None = None,
    sans: Sequence[str] = (),
) -> x509.Certificate:
    """The one place certificates are made, so CA and leaf extensions cannot drift apart.

    ``issuer=None`` makes a self-signed certificate (a root). CAs get critical BasicConstraints with the given
    path length and critical keyCertSign+cRLSign; leaves get BasicConstraints(ca=False), digitalSignature
    (plus keyEncipherment for RSA, which RSA key exchange in TLS 1.2 needs), one EKU and optional SANs.
    """
    public_key = key.public_key()
    signer_key = issuer.key if issuer else key
    issuer_name = issuer.cert.subject if issuer else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
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
        x509.KeyUsage(
            digital_signature=not is_ca,
            content_commitment=False,
            key_encipherment=rsa_key and not is_ca,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=is_ca,
            crl_sign=is_ca,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )
    if purpose is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(n) for n in sans]), critical=False)
    return builder.sign(signer_key, hashes.SHA256())


def _build_crl(
    ca: _CA, revoked: Iterable[tuple[int, dt.datetime]], *, number: int, now: dt.datetime
) -> x509.CertificateRevocationList:
    """A CRL signed by ``ca``. OpenSSL's crl_check_all wants one per CA in the chain, even an empty one."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now - _BACKDATE)
        .next_update(now + _CRL_LIFETIME)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return builder.sign(ca.key, hashes.SHA256())


def _pem(obj: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return obj.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: PrivateKey, passphrase: bytes | None = None) -> bytes:
    """PKCS#8 PEM; encrypted (PBES2/AES-256) when a passphrase is given, which OpenSSL and PostgreSQL read."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def _load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _load_key(path: Path) -> PrivateKey:
    # Our own keys: skipping the slow RSA consistency check is safe and makes revoke/issue fast.
    key = serialization.load_pem_private_key(path.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True)
    assert isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey))
    return key


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


# --------------------------------------------------------------------------------------------------------
# Writing files
# --------------------------------------------------------------------------------------------------------


def _write(path: Path, data: bytes, mode: int, *, atomic: bool = False) -> None:
    """Write with an explicit mode (whatever the umask). ``atomic`` for files a running server may be reading.

    No fsync: these are throw-away lab files, and a crash mid-write leaves no manifest, so the next
    ``ensure`` regenerates everything anyway.
    """
    target = path.with_name(f".{path.name}.tmp") if atomic else path
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
    finally:
        os.close(fd)
    if atomic:
        os.replace(target, path)


def _empty_dir(directory: Path, mode: int, keep: Iterable[str] = ()) -> None:
    """Make ``directory`` exist, empty (sub-directories named in ``keep`` excepted) and with ``mode``.

    Files are unlinked and later created anew rather than truncated in place or the directory removed:
    on ext4, truncating or renaming over a file with data forces that data to disk at close (the
    "auto_da_alloc" safety net), which made regeneration several times slower.
    """
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        directory.mkdir(parents=True, mode=mode)
        entries = []
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if entry.name not in keep:
                shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)
    if stat.S_IMODE(directory.stat().st_mode) != mode:  # mkdir's mode is filtered by the umask
        directory.chmod(mode)


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Serialise writers (two notebooks calling ensure on one workspace) with an advisory lock file."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    try:
        fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:
        raise WorkspaceError(f"no lab PKI under {str(root)!r}", "call LabPKI.ensure(root) first") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


# --------------------------------------------------------------------------------------------------------
# The lab PKI
# --------------------------------------------------------------------------------------------------------


class LabPKI:
    """A complete lab PKI in one directory: root and intermediate CA, server and client leaves, CRLs.

    Get one with :meth:`ensure`; then use :attr:`paths` for file names, :meth:`revoke`,
    :meth:`issue_client` and :meth:`issue_server` to change it, and :meth:`describe` to show it.
    """

    def __init__(
        self, root_dir: Path, key_type: str, server_names: tuple[str, ...], client_roles: tuple[str, ...]
    ) -> None:
        """Bind to a directory without touching it; use :meth:`ensure` to get a PKI that exists on disk."""
        self.root_dir = Path(root_dir)
        self.key_type = key_type
        self.server_names = server_names
        self.client_roles = client_roles
        self.paths = PKIPaths.under(self.root_dir)
        self._manifest_path = self.root_dir / "manifest.json"

    def __repr__(self) -> str:
        return (
            f"LabPKI({str(self.root_dir)!r}, key_type={self.key_type!r}, "
            f"server_names={self.server_names!r}, client_roles={self.client_roles!r})"
        )

    # -- getting one ---------------------------------------------------------------------------------

    @classmethod
    def ensure(
        cls,
        root: Path,
        *,
        key_type: str = "ecdsa-p256",
        server_names: tuple[str, ...] = ("localhost", "127.0.0.1"),
        client_roles: tuple[str, ...] = ("conssl", "reporter"),
        regenerate: bool = False,
    ) -> LabPKI:
        """Return the lab PKI under ``root``, reusing the files on disk when they still fit.

        The files are reused when ``root/manifest.json`` records the same key type, server names and client
        roles, every recorded file exists, and no certificate or CRL expires within a day (the deliberately
        expired client excepted). Otherwise -- or with ``regenerate=True`` -- everything is made afresh, so
        the tree is never a mix of two generations. Arguments are checked before anything is written.
        """
        pki = cls(Path(root), _check_key_type(key_type), _check_server_names(server_names), _check_roles(client_roles))
        try:
            pki.root_dir.mkdir(parents=True, exist_ok=True)
            with _locked(pki.root_dir):
                if regenerate or not pki._reusable():
                    pki._generate()
                else:
                    # A copied or unpacked workspace may have lost the key modes PostgreSQL insists on.
                    pki._fix_private_modes()
        except OSError as exc:
            raise WorkspaceError(
                f"cannot write the lab PKI under {str(pki.root_dir)!r}: {exc.strerror or exc}",
                "check that the workspace directory is writable, or choose another one",
            ) from exc
        return pki

    @property
    def passphrase(self) -> str:
        """The passphrase of ``server_encrypted_key`` (what ``ssl_passphrase_command`` must print)."""
        return self.paths.passphrase_file.read_text().rstrip("\r\n")

    # -- the manifest ----------------------------------------------------------------------------------

    def _read_manifest(self) -> dict[str, Any] | None:
        try:
            manifest = json.loads(self._manifest_path.read_text())
        except (OSError, ValueError):
            return None
        return manifest if isinstance(manifest, dict) and manifest.get("format") == _MANIFEST_FORMAT else None

    def _write_manifest(self, manifest: dict[str, Any], *, atomic: bool = True) -> None:
        _write(self._manifest_path, json.dumps(manifest, indent=2).encode() + b"\n", 0o644, atomic=atomic)

    def _manifest(self) -> dict[str, Any]:
        manifest = self._read_manifest()
        if manifest is None:
            raise WorkspaceError(f"no lab PKI under {str(self.root_dir)!r}", "call LabPKI.ensure(root) first")
        return manifest

    def _reusable(self) -> bool:
        """True when the files on disk were made for these parameters, are complete, and are still valid."""
        manifest = self._read_manifest()
        if manifest is None or (
            manifest.get("key_type"),
            tuple(manifest.get("server_names", ())),
            tuple(manifest.get("client_roles", ())),
        ) != (self.key_type, self.server_names, self.client_roles):
            return False
        wanted = list(self.paths.all().values())
        wanted += [self.paths.crl_dir / n for n in manifest.get("crl_dir_files", [])]
        wanted += [self.root_dir / extra[k] for extra in manifest.get("extras", []) for k in ("crt", "key")]
        if not all(p.exists() for p in wanted):
            return False
        horizon = _now() + _REUSE_MARGIN
        try:
            for cert_file in _CERT_FILES:
                cert = _load_cert(getattr(self.paths, cert_file.attr))
                if f"{cert.serial_number:x}" != manifest["serials"].get(cert_file.attr):
                    return False  # replaced behind our back: the rest of the tree may not match it
                if cert_file.attr != _EXPIRED_BY_DESIGN and cert.not_valid_after_utc < horizon:
                    return False
            for crl_path in (self.paths.root_crl, self.paths.intermediate_crl):
                next_update = x509.load_pem_x509_crl(crl_path.read_bytes()).next_update_utc
                if next_update is None or next_update < horizon:
                    return False
        except (ValueError, KeyError, OSError):
            return False
        return True

    def _fix_private_modes(self) -> None:
        """Put back 0700 on private/ and 0600 on its files (PostgreSQL refuses a group-readable key)."""
        private = self.paths.root_key.parent
        if private.stat().st_mode & 0o777 != 0o700:
            private.chmod(0o700)
        for path in private.iterdir():
            if path.is_file() and path.stat().st_mode & 0o777 != 0o600:
                path.chmod(0o600)

    # -- generation --------------------------------------------------------------------------------------

    def _generate(self) -> None:
        """Make every key, certificate and CRL, then write them; the manifest goes last, marking success."""
        now = _now()
        leaf_from, leaf_to = now - _BACKDATE, now - _BACKDATE + _LEAF_LIFETIME
        names, roles = self.server_names, self.client_roles
        second_role = roles[1] if len(roles) > 1 else roles[0]
        new_key = lambda: _generate_key(self.key_type)  # noqa: E731 - one key per certificate, never shared

        root_key = new_key()
        root = _CA(
            _build_certificate(subject=_name("pgtls-lab Root CA"), key=root_key, issuer=None, is_ca=True,
                               ca_path_length=1, not_before=leaf_from, not_after=leaf_from + _CA_LIFETIME),
            root_key,
        )
        inter_key = new_key()
        inter = _CA(
            _build_certificate(subject=_name("pgtls-lab Intermediate CA"), key=inter_key, issuer=root, is_ca=True,
                               ca_path_length=0, not_before=leaf_from, not_after=leaf_from + _CA_LIFETIME),
            inter_key,
        )
        rogue_key = new_key()
        rogue = _CA(
            _build_certificate(subject=_name("Rogue CA", _ROGUE_ORG), key=rogue_key, issuer=None, is_ca=True,
                               ca_path_length=0, not_before=leaf_from, not_after=leaf_from + _CA_LIFETIME),
            rogue_key,
        )

        def server(sans: Sequence[str], issuer: _CA) -> tuple[x509.Certificate, PrivateKey]:
            key = new_key()
            return _build_certificate(subject=_name(sans[0]), key=key, issuer=issuer, not_before=leaf_from,
                                      not_after=leaf_to, purpose=ExtendedKeyUsageOID.SERVER_AUTH, sans=sans), key

        def client(role: str, issuer: _CA, start: dt.datetime = leaf_from, end: dt.datetime = leaf_to,
                   org: str = _ORG) -> tuple[x509.Certificate, PrivateKey]:
            key = new_key()
            return _build_certificate(subject=_name(role, org), key=key, issuer=issuer, not_before=start,
                                      not_after=end, purpose=ExtendedKeyUsageOID.CLIENT_AUTH), key

        expired_to = now - dt.timedelta(days=1)
        leaves = {
            "server": server(names, inter),
            "server2": server(names, inter),
            "wrong_host": server((_WRONG_HOST,), inter),
            "server_by_root": server(names, root),
            "client": client(roles[0], inter),
            "client2": client(second_role, inter),
            "revoked_client": client(roles[0], inter),
            "expired_client": client(roles[0], inter, expired_to - _LEAF_LIFETIME, expired_to),
            "rogue_client": client(roles[0], rogue, org=_ROGUE_ORG),
        }
        revoked = [{"issuer": "intermediate", "serial": f"{leaves['revoked_client'][0].serial_number:x}",
                    "date": now.isoformat(), "file": self._rel(self.paths.revoked_client_crt)}]
        passphrase = secrets.token_urlsafe(24)

        # Write. Remove the manifest first: if anything below fails, the next ensure() starts over.
        p = self.paths
        self._manifest_path.unlink(missing_ok=True)
        for directory, dir_mode in ((p.root_crt.parent, 0o755), (p.crl_dir, 0o755), (p.server_crt.parent, 0o755),
                                    (p.root_key.parent, 0o700)):
            _empty_dir(directory, dir_mode, keep={p.crl_dir.name})

        def cert(path: Path, *chain: x509.Certificate) -> None:
            _write(path, b"".join(_pem(c) for c in chain), 0o644)

        def key(path: Path, private_key: PrivateKey) -> None:
            _write(path, _key_pem(private_key), 0o600)

        cert(p.root_crt, root.cert)
        key(p.root_key, root.key)
        cert(p.intermediate_crt, inter.cert)
        key(p.intermediate_key, inter.key)
        cert(p.combined_crt, inter.cert, root.cert)
        cert(p.rogue_ca_crt, rogue.cert)
        for stem, (leaf_cert, leaf_key) in leaves.items():
            cert(getattr(p, f"{stem}_crt"), leaf_cert)
            key(getattr(p, f"{stem}_key"), leaf_key)
        cert(p.server_chain_crt, leaves["server"][0], inter.cert)
        cert(p.client_chain_crt, leaves["client"][0], inter.cert)
        _write(p.server_encrypted_key, _key_pem(leaves["server"][1], passphrase.encode()), 0o600)
        _write(p.passphrase_file, passphrase.encode() + b"\n", 0o600)

        manifest: dict[str, Any] = {
            "format": _MANIFEST_FORMAT,
            "key_type": self.key_type,
            "server_names": list(names),
            "client_roles": list(roles),
            "created": now.isoformat(),
            "serials": {},
            "crl_number": 0,
            "revoked": revoked,
            "extras": [],
            "crl_dir_files": [],
        }
        certs_by_attr = {"root_crt": root.cert, "intermediate_crt": inter.cert, "rogue_ca_crt": rogue.cert}
        certs_by_attr.update({f"{stem}_crt": c for stem, (c, _) in leaves.items()})
        manifest["serials"] = {f.attr: f"{certs_by_attr[f.attr].serial_number:x}" for f in _CERT_FILES}
        self._write_crls(manifest, root, inter, now, atomic=False)
        self._write_manifest(manifest, atomic=False)

    def _write_crls(self, manifest: dict[str, Any], root: _CA, inter: _CA, now: dt.datetime, *, atomic: bool) -> None:
        """Re-sign both CRLs from the manifest's revocation list and rewrite the CRL files and crl_dir.

        ``atomic`` when revoking: a running server may re-read them at any moment (ssl_crl_dir lazily).
        """
        manifest["crl_number"] = int(manifest.get("crl_number", 0)) + 1
        crls = []
        for ca, label in ((root, "root"), (inter, "intermediate")):
            entries = [(int(r["serial"], 16), dt.datetime.fromisoformat(r["date"]))
                       for r in manifest["revoked"] if r["issuer"] == label]
            crls.append(_build_crl(ca, entries, number=manifest["crl_number"], now=now))
        root_crl, inter_crl = crls
        p = self.paths
        _write(p.root_crl, _pem(root_crl), 0o644, atomic=atomic)
        _write(p.intermediate_crl, _pem(inter_crl), 0o644, atomic=atomic)
        _write(p.combined_crl, _pem(inter_crl) + _pem(root_crl), 0o644, atomic=atomic)

        # ssl_crl_dir: <issuer hash>.r<n>, n counting up among CRLs whose issuers' hashes collide.
        hashed: list[str] = []
        for crl in crls:
            digest = openssl_name_hash(crl.issuer)
            name = f"{digest}.r{sum(1 for h in hashed if h.startswith(digest + '.'))}"
            _write(p.crl_dir / name, _pem(crl), 0o644, atomic=atomic)
            hashed.append(name)
        for stale in set(manifest.get("crl_dir_files", [])) - set(hashed):
            (p.crl_dir / stale).unlink(missing_ok=True)
        manifest["crl_dir_files"] = hashed

    # -- actions ---------------------------------------------------------------------------------------

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.root_dir).as_posix()

    def _lab_cas(self) -> tuple[_CA, _CA]:
        p = self.paths
        root = _CA(_load_cert(p.root_crt), _load_key(p.root_key))
        return root, _CA(_load_cert(p.intermediate_crt), _load_key(p.intermediate_key))

    def revoke(self, cert_path: Path) -> None:
        """Revoke the certificate in ``cert_path``: add its serial to its issuer's CRL and rewrite the CRL files.

        Works for anything the lab root or intermediate issued, including the intermediate itself (which
        lands in the root CRL). Revoking twice is harmless. The server sees the change after a reload
        (ssl_crl_file) or at once for new connections (ssl_crl_dir).
        """
        allowed = "a certificate issued by this lab's root or intermediate CA"
        try:
            cert = _load_cert(Path(cert_path))
        except (OSError, ValueError):
            hint = "give the path of a PEM certificate file"
            raise InvalidValue("cert_path", str(cert_path), allowed, hint) from None
        with _locked(self.root_dir):
            manifest = self._manifest()
            root, inter = self._lab_cas()
            issuer = None
            for ca, label in ((inter, "intermediate"), (root, "root")):
                if cert.issuer == ca.cert.subject and cert != ca.cert:
                    try:
                        cert.verify_directly_issued_by(ca.cert)
                    except (InvalidSignature, ValueError, TypeError):
                        continue
                    issuer = label
                    break
            if issuer is None:
                hint = "the root cannot be revoked, and other CAs' certificates are not ours to revoke"
                raise InvalidValue("cert_path", str(cert_path), allowed, hint)
            serial = f"{cert.serial_number:x}"
            if any(r["issuer"] == issuer and r["serial"] == serial for r in manifest["revoked"]):
                return
            now = _now()
            try:
                rel = Path(cert_path).resolve().relative_to(self.root_dir.resolve()).as_posix()
            except ValueError:
                rel = str(cert_path)
            manifest["revoked"].append({"issuer": issuer, "serial": serial, "date": now.isoformat(), "file": rel})
            self._write_crls(manifest, root, inter, now, atomic=True)
            self._write_manifest(manifest)

    def _issue_extra(self, record: dict[str, Any], subject_cn: str, sans: Sequence[str],
                     purpose: x509.ObjectIdentifier) -> tuple[Path, Path]:
        crt_path = self.paths.server_crt.parent / f"{record['name']}.crt"
        key_path = self.paths.root_key.parent / f"{record['name']}.key"
        with _locked(self.root_dir):
            manifest = self._manifest()
            _, inter = self._lab_cas()
            now = _now()
            key = _generate_key(self.key_type)
            cert = _build_certificate(subject=_name(subject_cn), key=key, issuer=inter, not_before=now - _BACKDATE,
                                      not_after=now - _BACKDATE + _LEAF_LIFETIME, purpose=purpose, sans=sans)
            _write(key_path, _key_pem(key), 0o600, atomic=True)
            _write(crt_path, _pem(cert), 0o644, atomic=True)
            record.update(crt=self._rel(crt_path), key=self._rel(key_path), serial=f"{cert.serial_number:x}")
            manifest["extras"] = [e for e in manifest["extras"] if e["name"] != record["name"]] + [record]
            self._write_manifest(manifest)
        return crt_path, key_path

    def issue_client(self, role: str, *, name: str | None = None) -> tuple[Path, Path]:
        """Issue one more client certificate (CN = ``role``) from the intermediate; return (cert, key) paths.

        Files are ``certs/<name>.crt`` and ``private/<name>.key``; ``name`` defaults to ``client-<role>``.
        Issuing again under the same name replaces the earlier certificate.
        """
        role = _check_role(role)
        stem = _check_stem(f"client-{role}" if name is None else name)
        record = {"kind": "client", "name": stem, "role": role}
        return self._issue_extra(record, role, (), ExtendedKeyUsageOID.CLIENT_AUTH)

    def issue_server(self, names: tuple[str, ...], *, name: str) -> tuple[Path, Path]:
        """Issue one more server certificate for ``names`` (CN = first name) from the intermediate.

        Files are ``certs/<name>.crt`` and ``private/<name>.key``; returns their paths.
        """
        sans = _check_server_names(names, "names")
        stem = _check_stem(name)
        record = {"kind": "server", "name": stem, "names": list(sans)}
        return self._issue_extra(record, sans[0], sans, ExtendedKeyUsageOID.SERVER_AUTH)

    # -- describing ---------------------------------------------------------------------------------------

    def describe(self) -> pd.DataFrame:
        """One row per certificate file: who signed it, what it names, whether it is revoked and verifies.

        ``chain_verifies`` uses cryptography's verifier with the lab root as the only trust anchor and the
        intermediate offered as untrusted: server certificates against their first SAN, client certificates
        as clients (allowing no SAN, since PostgreSQL matches the CN). It checks signatures, validity dates,
        EKU and names, not revocation -- that is the separate ``revoked`` column, read from the lab CRLs.
        CA rows verify by signature to the lab root and validity dates. Bundles are not listed.
        """
        import pandas as pd  # here, not at module level: pandas takes longer to import than the PKI to make

        manifest = self._manifest()
        p = self.paths
        root, inter = _load_cert(p.root_crt), _load_cert(p.intermediate_crt)
        crls = [x509.load_pem_x509_crl(path.read_bytes()) for path in (p.root_crl, p.intermediate_crl)]
        now = dt.datetime.now(dt.timezone.utc)
        store = Store([root])
        client_ee = ExtensionPolicy.webpki_defaults_ee().may_be_present(
            x509.SubjectAlternativeName, Criticality.AGNOSTIC, None
        )
        client_verifier = (
            PolicyBuilder().store(store).time(now)
            .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=client_ee)
            .build_client_verifier()
        )

        listing = [(getattr(p, f.attr), f.role, f.lesson) for f in _CERT_FILES]
        for extra in manifest.get("extras", []):
            listing.append((self.root_dir / extra["crt"], extra["kind"], f"extra, from issue_{extra['kind']}()"))

        rows = []
        for path, role, lesson in listing:
            cert = _load_cert(path)
            try:
                san_ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                sans = [str(g.value) for g in san_ext]
                san_text = ", ".join(f"{'IP' if isinstance(g, x509.IPAddress) else 'DNS'}:{g.value}" for g in san_ext)
            except x509.ExtensionNotFound:
                sans, san_text = [], ""
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
            revoked = any(
                crl.issuer == cert.issuer
                and crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
                for crl in crls
            )
            if is_ca:
                verifies = self._ca_verifies(cert, root, now)
            elif role == "server":
                try:
                    subject = _general_name(sans[0])
                    verifier = PolicyBuilder().store(store).time(now).build_server_verifier(subject)
                    verifier.verify(cert, [inter])
                    verifies = True
                except (VerificationError, IndexError):
                    verifies = False
            else:
                try:
                    client_verifier.verify(cert, [inter])
                    verifies = True
                except VerificationError:
                    verifies = False
            rows.append({
                "file": self._rel(path),
                "role": role,
                "lesson": lesson,
                "subject": cert.subject.rfc4514_string(),
                "issuer": cert.issuer.rfc4514_string(),
                "serial": f"{cert.serial_number:x}",
                "sans": san_text,
                "not_before": cert.not_valid_before_utc,
                "not_after": cert.not_valid_after_utc,
                "key": _key_label(cert.public_key()),
                "is_ca": is_ca,
                "revoked": revoked,
                "chain_verifies": verifies,
            })
        return pd.DataFrame(rows, columns=list(_DESCRIBE_COLUMNS))

    @staticmethod
    def _ca_verifies(cert: x509.Certificate, root: x509.Certificate, now: dt.datetime) -> bool:
        """A CA row verifies when it is the lab root or signed by it, and is within its validity dates."""
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            return False
        if cert == root:
            return True
        try:
            cert.verify_directly_issued_by(root)
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True


_DESCRIBE_COLUMNS = (
    "file", "role", "lesson", "subject", "issuer", "serial", "sans",
    "not_before", "not_after", "key", "is_ca", "revoked", "chain_verifies",
)
