"""The files a client brings: a ``~/.postgresql`` folder laid out as the guide prepares it, key copies.

Why: the client lessons show libpq finding its default files (``postgresql.crt``, ``postgresql.key``,
``root.crt`` in ``~/.postgresql``), refusing a key anyone can read, and asking for a passphrase. Those
need real files with real modes, made from the lab PKI in a folder of the lesson's own.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization

from .errors import InvalidValue

if TYPE_CHECKING:
    from .pki import LabPKI

__all__ = ["ROOT_CHOICES", "cert_keywords", "encrypted_key_copy", "key_copy", "lab_home", "root_file"]

#: What a client may name as ``sslrootcert`` in the lessons (``missing`` = a path that does not exist).
ROOT_CHOICES: tuple[str, ...] = ("root", "combined", "intermediate", "rogue", "missing")


def root_file(pki: LabPKI, choice: str) -> Path:
    """The file behind a ``sslrootcert`` choice of :data:`ROOT_CHOICES`."""
    if choice not in ROOT_CHOICES:
        raise InvalidValue("sslrootcert_choice", choice, ROOT_CHOICES)
    p = pki.paths
    return {"root": p.root_crt, "combined": p.combined_crt, "intermediate": p.intermediate_crt,
            "rogue": p.rogue_ca_crt, "missing": pki.root_dir / "nowhere" / "root.crt"}[choice]


def lab_home(folder: str | Path, pki: LabPKI, *, root: str = "combined", cert: str = "client",
             key_mode: int = 0o600) -> Path:
    """A HOME folder prepared as the guide prepares a client: ``<folder>/.postgresql/`` holding
    ``postgresql.crt`` (0644), ``postgresql.key`` (``key_mode``) and ``root.crt`` (0644).

    ``root`` is a :data:`ROOT_CHOICES` name (not ``missing``); ``cert`` a client stem of the PKI
    (``client``, ``client2``, ``revoked_client``...). The folder is rebuilt from scratch each call.
    """
    if root not in ROOT_CHOICES[:-1]:
        raise InvalidValue("root", root, ROOT_CHOICES[:-1])
    if not hasattr(pki.paths, f"{cert}_crt"):
        raise InvalidValue("cert", cert, ("client", "client2", "revoked_client", "expired_client", "rogue_client"))
    home = Path(folder).absolute()
    dot = home / ".postgresql"
    if dot.exists():
        shutil.rmtree(dot)
    dot.mkdir(parents=True, mode=0o700)
    dot.chmod(0o700)
    for source, name, mode in ((getattr(pki.paths, f"{cert}_crt"), "postgresql.crt", 0o644),
                               (getattr(pki.paths, f"{cert}_key"), "postgresql.key", key_mode),
                               (root_file(pki, root), "root.crt", 0o644)):
        target = dot / name
        shutil.copyfile(source, target)
        target.chmod(mode)
    return home


def key_copy(source: str | Path, target: str | Path, mode: int) -> Path:
    """Copy a private key and give the copy ``mode`` (e.g. 0o644 to watch libpq refuse it)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(mode)
    return target


def encrypted_key_copy(source: str | Path, target: str | Path, passphrase: str) -> Path:
    """Write ``source`` (an unencrypted PEM key) to ``target`` encrypted with ``passphrase``, mode 0600:
    what ``openssl pkey -aes256`` would produce, for the ``sslpassword`` lesson."""
    key = serialization.load_pem_private_key(Path(source).read_bytes(), password=None)
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(passphrase.encode()))
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    target.chmod(0o600)
    return target


def cert_keywords(pki: LabPKI, stem: str | None) -> dict[str, Path]:
    """``sslcert`` and ``sslkey`` of a client certificate of the lab PKI (``client``, ``revoked_client``...),
    as attempt keywords; ``{}`` for ``None`` (no certificate)."""
    if stem is None:
        return {}
    if not hasattr(pki.paths, f"{stem}_crt") or not hasattr(pki.paths, f"{stem}_key"):
        raise InvalidValue("stem", stem, ("client", "client2", "revoked_client", "expired_client", "rogue_client"))
    return {"sslcert": getattr(pki.paths, f"{stem}_crt"), "sslkey": getattr(pki.paths, f"{stem}_key")}
