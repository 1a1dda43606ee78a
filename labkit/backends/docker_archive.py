"""What travels into a lab container, built in memory: tar archives whose members belong to the server's
account, and the admin role's SQL with a SCRAM verifier instead of the password. Also the pull-progress
summariser. Pure functions, so they are tested without an engine.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import io
import os
import posixpath
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidValue

Progress = Callable[[str], None]
POSTGRES_UID = 999  # the official image's postgres account (also the offline image's)
ADMIN_ROLE = "labkit_admin"


@dataclass(frozen=True)
class TarEntry:
    """One member of an archive for put_archive: a directory when ``content`` is None."""

    name: str
    content: bytes | None
    mode: int


def build_tar(entries: list[TarEntry]) -> bytes:
    """A tar whose members belong to postgres (999:999), so the server can read its own files."""
    buffer = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.uid = info.gid = POSTGRES_UID
            info.uname = info.gname = "postgres"
            info.mode = entry.mode
            info.mtime = now
            if entry.content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(entry.content)
                tar.addfile(info, io.BytesIO(entry.content))
    return buffer.getvalue()


def file_entries(relative: str, content: bytes, mode: int, prefix: str = "") -> list[TarEntry]:
    """Entries for a file and its parent directories below ``prefix`` (0700, as PostgreSQL wants its
    directories), so that put_archive never creates a parent owned by root."""
    parts = relative.split("/")
    dirs = [TarEntry(posixpath.join(prefix, *parts[:i]), None, 0o700) for i in range(1, len(parts))]
    return dirs + [TarEntry(posixpath.join(prefix, relative), content, mode)]


def clean_relative(relative: str) -> str:
    """Normalise a path below the data directory; refuse anything that would leave it."""
    text = str(relative).replace("\\", "/")
    normal = posixpath.normpath(text)
    if not text or text.startswith("/") or normal in (".", "") or normal == ".." or normal.startswith("../"):
        raise InvalidValue("path", relative, "a file path relative to the data directory, without '..'",
                           "give a path such as 'server.key' or 'conf.d/tls.conf'")
    return normal


def scram_verifier(password: str, iterations: int = 4096, salt: bytes | None = None) -> str | None:
    """PostgreSQL's SCRAM-SHA-256 verifier for ``password``, so the plain password never has to enter
    the container. None for non-ASCII passwords, whose SASLprep normalisation only the server does."""
    if not password.isascii():
        return None
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    salt64, stored64, server64 = (base64.b64encode(raw).decode() for raw in (salt, stored_key, server_key))
    return f"SCRAM-SHA-256${iterations}:{salt64}${stored64}:{server64}"


def sql_literal(text: str) -> str:
    """A standard SQL string literal (standard_conforming_strings is on in every supported version)."""
    return "'" + text.replace("'", "''") + "'"


def admin_role_sql(password: str) -> bytes:
    """The statement creating the admin role; its password is hashed here when possible."""
    secret = scram_verifier(password) or password
    return f"CREATE ROLE {ADMIN_ROLE} SUPERUSER LOGIN PASSWORD {sql_literal(secret)};\n".encode()


class PullProgress:
    """Turns the engine's pull events (one per layer and step) into one short line per second."""

    def __init__(self, image: str, report: Progress, every: float = 1.0) -> None:
        self.image, self.report, self.every = image, report, every
        self.layers: dict[str, list[int]] = {}  # id -> [current, total]
        self.done: set[str] = set()
        self.last = 0.0

    def add(self, event: dict[str, Any]) -> None:
        """Account for one event and report if a second went by."""
        layer, status = event.get("id"), event.get("status", "")
        if layer and not status.startswith("Pulling from"):  # that event's id is the tag, not a layer
            detail = event.get("progressDetail") or {}
            slot = self.layers.setdefault(layer, [0, 0])
            if status == "Downloading" and detail.get("total"):
                slot[:] = [int(detail.get("current", 0)), int(detail["total"])]
            if status in ("Download complete", "Pull complete", "Already exists"):
                slot[0] = slot[1]
                self.done.add(layer)
        if time.monotonic() - self.last >= self.every:
            self.last = time.monotonic()
            self.report(self.summary())

    def summary(self) -> str:
        """E.g. ``pulling postgres:16: 5/13 layers, 41 of 152 MB``."""
        current = sum(c for c, _ in self.layers.values()) / 1e6
        total = sum(t for _, t in self.layers.values()) / 1e6
        return f"pulling {self.image}: {len(self.done)}/{len(self.layers)} layers, {current:.0f} of {total:.0f} MB"
