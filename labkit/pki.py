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

Every certificate is made by :class:`labkit.ca.CA` (root, child CA, server and client leaves, CRLs); this
module fixes the course's hierarchy and file names on top of it, and describes and verifies the result.

``LabPKI.ensure`` is cheap to call from every notebook: it reuses the files when the manifest says they were
made for the same parameters and nothing has expired, and regenerates the whole tree otherwise.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509

from .ca import (
    BACKDATE,
    CA,
    KEY_TYPES,
    LEAF_LIFETIME,
    Leaf,
    certificate_facts,
    check_key_type,
    check_server_names,
    key_pem,
    load_cert,
    openssl_name_hash,
    pem,
    write_file,
    wrong_passphrase_fails_at_padding,
)
from .errors import InvalidValue, WorkspaceError
from .pki_files import check_role, check_roles, empty_dir, locked

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CA", "KEY_TYPES", "LabPKI", "Leaf", "PKIPaths", "openssl_name_hash"]

_MANIFEST_FORMAT = 1
_ROGUE_ORG = "not-pgtls-lab"
_WRONG_HOST = "db.wrong-host.example"

# Reuse only files that stay valid for at least this long, so a lesson does not fail half way through.
_REUSE_MARGIN = dt.timedelta(days=1)

_STEM_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SPACES = "spaces"  # lessons' own certificates: spaces/<lesson>/{certs,private}
VALIDITY: tuple[str, ...] = ("valid", "expired", "not-yet-valid")


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


def _check_stem(name: object) -> str:
    if not isinstance(name, str) or not _STEM_RE.fullmatch(name) or name in _RESERVED_STEMS:
        raise InvalidValue(
            "name", name, "a file name stem of letters, digits, '.', '_' or '-' not used by the standard set",
            f"the standard set already uses {', '.join(sorted(_RESERVED_STEMS))}",
        )
    return name


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
        pki = cls(Path(root), check_key_type(key_type), check_server_names(server_names), check_roles(client_roles))
        try:
            pki.root_dir.mkdir(parents=True, exist_ok=True)
            with locked(pki.root_dir):
                if regenerate or not pki._reusable():
                    pki._generate()
                else:
                    # A copied or unpacked workspace may have lost the key modes PostgreSQL insists on.
                    pki._fix_private_modes()
                    pki._heal_encrypted_key()
        except OSError as exc:
            raise WorkspaceError(
                f"cannot write the lab PKI under {str(pki.root_dir)!r}: {exc.strerror or exc}",
                "check that the workspace directory is writable, or choose another one",
            ) from exc
        return pki

    def _heal_encrypted_key(self) -> None:
        """A PKI made before :func:`labkit.ca.key_pem` checked its encryption may hold the rare key that the
        course's wrong passphrase decrypts to valid padding (``wrong tag`` instead of ``bad decrypt``): write
        it again, same key and passphrase (a check of 1 ms)."""
        encrypted = self.paths.server_encrypted_key
        if encrypted.is_file() and not wrong_passphrase_fails_at_padding(encrypted.read_bytes()):
            from cryptography.hazmat.primitives.serialization import load_pem_private_key

            key = load_pem_private_key(self.paths.server_key.read_bytes(), None)
            write_file(encrypted, key_pem(key, self.passphrase.encode()), 0o600, atomic=True)  # type: ignore[arg-type]

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
        write_file(self._manifest_path, json.dumps(manifest, indent=2).encode() + b"\n", 0o644, atomic=atomic)

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
                cert = load_cert(getattr(self.paths, cert_file.attr))
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
        leaf_from = now - BACKDATE
        names, roles = self.server_names, self.client_roles
        second_role = roles[1] if len(roles) > 1 else roles[0]
        root = CA.root("pgtls-lab Root CA", key_type=self.key_type, path_length=1, not_before=leaf_from)
        inter = root.child_ca("pgtls-lab Intermediate CA", path_length=0, not_before=leaf_from)
        rogue = CA.root("Rogue CA", org=_ROGUE_ORG, key_type=self.key_type, path_length=0, not_before=leaf_from)
        expired_to = now - dt.timedelta(days=1)
        leaves: dict[str, Leaf] = {
            "server": inter.issue_server_cert(*names, not_before=leaf_from),
            "server2": inter.issue_server_cert(*names, not_before=leaf_from),
            "wrong_host": inter.issue_server_cert(_WRONG_HOST, not_before=leaf_from),
            "server_by_root": root.issue_server_cert(*names, not_before=leaf_from),
            "client": inter.issue_client_cert(roles[0], not_before=leaf_from),
            "client2": inter.issue_client_cert(second_role, not_before=leaf_from),
            "revoked_client": inter.issue_client_cert(roles[0], not_before=leaf_from),
            "expired_client": inter.issue_client_cert(roles[0], not_before=expired_to - LEAF_LIFETIME,
                                                      not_after=expired_to),
            "rogue_client": rogue.issue_client_cert(roles[0], not_before=leaf_from),
        }
        revoked = [{"issuer": "intermediate", "serial": leaves["revoked_client"].serial,
                    "date": now.isoformat(), "file": self._rel(self.paths.revoked_client_crt)}]
        passphrase = secrets.token_urlsafe(24)

        # Write. Remove the manifest first: if anything below fails, the next ensure() starts over.
        p = self.paths
        self._manifest_path.unlink(missing_ok=True)
        shutil.rmtree(self.root_dir / _SPACES, ignore_errors=True)  # lessons' certificates of the old CAs
        for directory, dir_mode in ((p.root_crt.parent, 0o755), (p.crl_dir, 0o755), (p.server_crt.parent, 0o755),
                                    (p.root_key.parent, 0o700)):
            empty_dir(directory, dir_mode, keep={p.crl_dir.name})

        root.write(p.root_crt, p.root_key)
        inter.write(p.intermediate_crt, p.intermediate_key)
        write_file(p.combined_crt, pem(inter.cert) + pem(root.cert), 0o644)
        rogue.write(p.rogue_ca_crt)
        for stem, leaf in leaves.items():
            leaf.write(getattr(p, f"{stem}_crt"), getattr(p, f"{stem}_key"))
        write_file(p.server_chain_crt, leaves["server"].cert_pem(inter.cert), 0o644)
        write_file(p.client_chain_crt, leaves["client"].cert_pem(inter.cert), 0o644)
        write_file(p.server_encrypted_key, leaves["server"].key_pem(passphrase.encode()), 0o600)
        write_file(p.passphrase_file, passphrase.encode() + b"\n", 0o600)

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
        certs_by_attr.update({f"{stem}_crt": leaf.cert for stem, leaf in leaves.items()})
        manifest["serials"] = {f.attr: f"{certs_by_attr[f.attr].serial_number:x}" for f in _CERT_FILES}
        self._write_crls(manifest, root, inter, now, atomic=False)
        self._write_manifest(manifest, atomic=False)

    def _write_crls(self, manifest: dict[str, Any], root: CA, inter: CA, now: dt.datetime, *, atomic: bool) -> None:
        """Re-sign both CRLs from the manifest's revocation list and rewrite the CRL files and crl_dir.

        ``atomic`` when revoking: a running server may re-read them at any moment (ssl_crl_dir lazily).
        """
        manifest["crl_number"] = int(manifest.get("crl_number", 0)) + 1
        crls = []
        for ca, label in ((root, "root"), (inter, "intermediate")):
            entries = [(int(r["serial"], 16), dt.datetime.fromisoformat(r["date"]))
                       for r in manifest["revoked"] if r["issuer"] == label]
            crls.append(ca.crl(number=manifest["crl_number"], now=now, revoked=entries))
        root_crl, inter_crl = crls
        p = self.paths
        write_file(p.root_crl, pem(root_crl), 0o644, atomic=atomic)
        write_file(p.intermediate_crl, pem(inter_crl), 0o644, atomic=atomic)
        write_file(p.combined_crl, pem(inter_crl) + pem(root_crl), 0o644, atomic=atomic)

        # ssl_crl_dir: <issuer hash>.r<n>, n counting up among CRLs whose issuers' hashes collide.
        hashed: list[str] = []
        for crl in crls:
            digest = openssl_name_hash(crl.issuer)
            name = f"{digest}.r{sum(1 for h in hashed if h.startswith(digest + '.'))}"
            write_file(p.crl_dir / name, pem(crl), 0o644, atomic=atomic)
            hashed.append(name)
        for stale in set(manifest.get("crl_dir_files", [])) - set(hashed):
            (p.crl_dir / stale).unlink(missing_ok=True)
        manifest["crl_dir_files"] = hashed

    # -- actions ---------------------------------------------------------------------------------------

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.root_dir).as_posix()

    def root_ca(self) -> CA:
        """The lab root as a :class:`~labkit.ca.CA` (to build another hierarchy under it)."""
        return CA.load(self.paths.root_crt, self.paths.root_key)

    def intermediate_ca(self) -> CA:
        """The lab intermediate as a :class:`~labkit.ca.CA`."""
        return CA.load(self.paths.intermediate_crt, self.paths.intermediate_key)

    def _lab_cas(self) -> tuple[CA, CA]:
        return self.root_ca(), self.intermediate_ca()

    def revoke(self, cert_path: Path) -> None:
        """Revoke the certificate in ``cert_path``: add its serial to its issuer's CRL and rewrite the CRL files.

        Works for anything the lab root or intermediate issued, including the intermediate itself (which
        lands in the root CRL). Revoking twice is harmless. The server sees the change after a reload
        (ssl_crl_file) or at once for new connections (ssl_crl_dir).
        """
        allowed = "a certificate issued by this lab's root or intermediate CA"
        try:
            cert = load_cert(Path(cert_path))
        except (OSError, ValueError):
            hint = "give the path of a PEM certificate file"
            raise InvalidValue("cert_path", str(cert_path), allowed, hint) from None
        with locked(self.root_dir):
            manifest = self._manifest()
            root, inter = self._lab_cas()
            issuer = None
            for ca, label in ((inter, "intermediate"), (root, "root")):
                if ca.issued(cert):
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

    def _extra_paths(self, stem: str, space: str | None) -> tuple[Path, Path]:
        """certs/<stem>.crt and private/<stem>.key, or the same below spaces/<space>/ for a lesson's own."""
        if space is None:
            return self.paths.server_crt.parent / f"{stem}.crt", self.paths.root_key.parent / f"{stem}.key"
        if not isinstance(space, str) or not _STEM_RE.fullmatch(space):
            raise InvalidValue("space", space, "a folder name of letters, digits, '.', '_' or '-'", "e.g. space='14'")
        base = self.root_dir / _SPACES / space
        (base / "certs").mkdir(parents=True, exist_ok=True)
        if not (base / "private").is_dir():
            (base / "private").mkdir(mode=0o700)
        (base / "private").chmod(0o700)
        return base / "certs" / f"{stem}.crt", base / "private" / f"{stem}.key"

    def _issue_extra(self, record: dict[str, Any], issue: Callable[[CA, dt.datetime, dt.datetime], Leaf], by: str,
                     *, validity: str, passphrase: str | None, space: str | None) -> tuple[Path, Path]:
        if by not in ("intermediate", "root"):
            raise InvalidValue("by", by, ("intermediate", "root"))
        if validity not in VALIDITY:
            raise InvalidValue("validity", validity, VALIDITY, "expired and not-yet-valid are off by a day")
        if passphrase is not None and (not isinstance(passphrase, str) or not passphrase):
            raise InvalidValue("passphrase", "***", "a non-empty string (the key is then encrypted with it)")
        crt_path, key_path = self._extra_paths(record["name"], space)
        now, day = _now(), dt.timedelta(days=1)
        start, end = {"valid": (now - BACKDATE, now - BACKDATE + LEAF_LIFETIME),
                      "expired": (now - day - LEAF_LIFETIME, now - day),
                      "not-yet-valid": (now + day, now + day + LEAF_LIFETIME)}[validity]
        with locked(self.root_dir):
            manifest = self._manifest()
            leaf = issue(self.intermediate_ca() if by == "intermediate" else self.root_ca(), start, end)
            leaf.write(crt_path, key_path, passphrase=passphrase.encode() if passphrase else None, atomic=True)
            record.update(crt=self._rel(crt_path), key=self._rel(key_path), serial=leaf.serial, by=by,
                          validity=validity, encrypted_key=passphrase is not None, space=space)
            manifest["extras"] = [e for e in manifest["extras"]
                                  if (e["name"], e.get("space")) != (record["name"], space)] + [record]
            self._write_manifest(manifest)
        return crt_path, key_path

    def issue_client(self, role: str, *, name: str | None = None, by: str = "intermediate",
                     subject: str | None = None, validity: str = "valid", passphrase: str | None = None,
                     space: str | None = None) -> tuple[Path, Path]:
        """Issue one more client certificate (CN = ``role``) from the intermediate (or, ``by="root"``, straight
        from the root: the guide's "root on both sides" layout); return (cert, key) paths.

        Files are ``certs/<name>.crt`` and ``private/<name>.key``; ``name`` defaults to ``client-<role>``.
        Issuing again under the same name replaces the earlier certificate. ``subject``: a whole RFC 4514
        DN instead of ``O=pgtls-lab,CN=<role>`` (for ``clientname=DN`` maps). ``validity``: ``expired`` or
        ``not-yet-valid`` (a day off). ``passphrase``: the key is written encrypted with it. ``space``: a
        lesson's own folder (``spaces/<space>/``), so what one lesson makes never shows in another's
        :meth:`describe`.
        """
        role = check_role(role)
        stem = _check_stem(f"client-{role}" if name is None else name)
        record = {"kind": "client", "name": stem, "role": role, "subject": subject}
        return self._issue_extra(
            record, lambda ca, start, end: ca.issue_cert(subject or f"CN={role},O={ca.org}", purpose="client",
                                                         not_before=start, not_after=end),
            by, validity=validity, passphrase=passphrase, space=space)

    def issue_server(self, names: tuple[str, ...], *, name: str, by: str = "intermediate", san: bool = True,
                     subject: str | None = None, validity: str = "valid", passphrase: str | None = None,
                     space: str | None = None) -> tuple[Path, Path]:
        """Issue one more server certificate for ``names`` (CN = first name) from the intermediate (or root).

        Files are ``certs/<name>.crt`` and ``private/<name>.key``; returns their paths. ``san=False`` leaves
        the SAN out (libpq then checks the CN alone); ``subject``, ``validity``, ``passphrase`` and ``space``
        as in :meth:`issue_client`.
        """
        sans = check_server_names(names, "names")
        stem = _check_stem(name)
        record = {"kind": "server", "name": stem, "names": list(sans), "san": bool(san), "subject": subject}
        return self._issue_extra(
            record, lambda ca, start, end: ca.issue_cert(subject or f"CN={sans[0]},O={ca.org}", purpose="server",
                                                         sans=sans if san else (), not_before=start, not_after=end),
            by, validity=validity, passphrase=passphrase, space=space)

    # -- describing ---------------------------------------------------------------------------------------

    def describe(self, space: str | None = None) -> pd.DataFrame:
        """One row per certificate file: who signed it, what it names, whether it is revoked and verifies.

        ``chain_verifies`` uses cryptography's verifier with the lab root as the only trust anchor and the
        intermediate offered as untrusted: server certificates against their first SAN, client certificates
        as clients (allowing no SAN, since PostgreSQL matches the CN). It checks signatures, validity dates,
        EKU and names, not revocation -- that is the separate ``revoked`` column, read from the lab CRLs.
        CA rows verify by signature to the lab root and validity dates. Bundles are not listed. Extra
        certificates are listed when shared, plus those of ``space`` (a lesson's own, see :meth:`issue_client`);
        their ``lesson`` cell says how they were made (no SAN, custom subject, expired, encrypted key...).
        """
        import pandas as pd  # here, not at module level: pandas takes longer to import than the PKI to make

        manifest = self._manifest()
        p = self.paths
        root, inter = load_cert(p.root_crt), load_cert(p.intermediate_crt)
        crls = [x509.load_pem_x509_crl(path.read_bytes()) for path in (p.root_crl, p.intermediate_crl)]
        listing = [(getattr(p, f.attr), f.role, f.lesson) for f in _CERT_FILES]
        for extra in manifest.get("extras", []):
            if extra.get("space") in (None, space):
                listing.append((self.root_dir / extra["crt"], extra["kind"], _extra_note(extra)))
        rows = [{"file": self._rel(path), "role": role, "lesson": lesson,
                 **certificate_facts(load_cert(path), role, root, [inter], crls)} for path, role, lesson in listing]
        return pd.DataFrame(rows, columns=list(_DESCRIBE_COLUMNS))


_DESCRIBE_COLUMNS = (
    "file", "role", "lesson", "subject", "issuer", "serial", "sans",
    "not_before", "not_after", "key", "is_ca", "revoked", "chain_verifies",
)


def _extra_note(extra: dict[str, Any]) -> str:
    """The ``lesson`` cell of an extra certificate: where it came from and what is special about it."""
    notes = [f"space {extra['space']}"] if extra.get("space") else []
    notes += ["no SAN"] if extra.get("san") is False else []
    notes += [f"subject {extra['subject']}"] if extra.get("subject") else []
    notes += [extra["validity"]] if extra.get("validity", "valid") != "valid" else []
    notes += ["encrypted key"] if extra.get("encrypted_key") else []
    return f"extra, from issue_{extra['kind']}()" + (f": {', '.join(notes)}" if notes else "")
