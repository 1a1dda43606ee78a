"""What ``labkit audit`` points at: a libpq connection string or URI, or a list of them in ``targets.yaml``.

A target is parsed with psycopg's own conninfo parser (the exact rules libpq applies), so whatever works
with ``psql`` works here. Two things matter beyond libpq: the audit must know the TCP address to probe
without credentials (``hostaddr`` wins over ``host``, as in libpq), and nothing the user typed as a secret
may reach a report -- :attr:`Target.display` is the only form of a target that outputs ever show.
"""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ..errors import InvalidValue

DEFAULT_PORT = 5432
SECRET_KEYS = frozenset({"password", "sslpassword"})
"""libpq keywords whose values are secrets: never shown, never written."""
SHAPE_HINT = "write a list of connection strings, or of {name, dsn, root} mappings"
SHOWN_KEYS = ("host", "hostaddr", "port", "dbname", "user", "sslmode", "sslrootcert")
"""The keywords a report shows to say which server and how (file paths, never secrets)."""


@dataclass(frozen=True)
class Target:
    """One server to audit, as the user named it, with the address to probe resolved."""

    name: str
    """A short label for the report (``name:`` in targets.yaml, else ``host:port``)."""
    params: Mapping[str, str]
    """The libpq keywords as given (may hold a password: use :attr:`display` for output)."""
    host: str
    """The host name the client connects to; certificate names are checked against it."""
    address: str
    """The IP address probed (``hostaddr``, or ``host`` resolved)."""
    port: int
    root: Path | None = None
    """CA bundle the served chain is validated against (``--root``, else the target's ``sslrootcert``)."""

    @property
    def user(self) -> str | None:
        """The role for the inside view; without one the audit stays outside."""
        return self.params.get("user") or None

    @property
    def display(self) -> str:
        """The target without secrets, as a libpq string: what reports show."""
        shown = {key: self.params[key] for key in SHOWN_KEYS if self.params.get(key)}
        return make_conninfo(**shown)

    def inside_conninfo(self, **overrides: Any) -> dict[str, Any]:
        """Keywords for the inside view's connection: the user's own, plus read-only safeguards."""
        params: dict[str, Any] = dict(self.params)
        params.setdefault("connect_timeout", "5")
        params["application_name"] = "labkit audit"
        params.update(overrides)
        return params


def parse_target(text: str, *, root: Path | None = None, name: str | None = None) -> Target:
    """Read one target (``"host=... port=..."`` or ``postgresql://...``); raise InvalidValue if libpq cannot.

    Several hosts in one string (libpq's fail-over lists) are refused: an audit must say which server it saw.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidValue("target", text, "a libpq connection string or URI",
                           "e.g. 'host=127.0.0.1 port=5432 user=auditor sslmode=verify-full sslrootcert=root.crt'")
    try:
        params = {key: str(value) for key, value in conninfo_to_dict(text).items()}
    except psycopg.ProgrammingError as exc:
        raise InvalidValue("target", _redacted(text), "a libpq connection string or URI",
                           f"libpq says: {str(exc).strip()}") from None
    host = params.get("host") or ""
    hostaddr = params.get("hostaddr") or ""
    if "," in host or "," in hostaddr or "," in params.get("port", ""):
        raise InvalidValue("target host", host or hostaddr, "a single host",
                           "audit each server of a fail-over list as its own target")
    if not host and not hostaddr:
        raise InvalidValue("target", _redacted(text), "a connection string naming host= (TCP)",
                           "the audit probes TLS over TCP; a Unix socket has none")
    if host.startswith("/"):
        raise InvalidValue("target host", host, "a TCP host name or address",
                           "a Unix-socket directory carries no TLS; give host=127.0.0.1 or the server's name")
    port = _port(params.get("port") or str(DEFAULT_PORT))
    address = hostaddr or _resolve(host)
    bundle = root if root is not None else (Path(params["sslrootcert"]).expanduser()
                                            if params.get("sslrootcert") not in (None, "", "system") else None)
    if bundle is not None and not bundle.is_file():
        raise InvalidValue("root CA file", str(bundle), "an existing PEM file",
                           "give the CA bundle clients trust with --root or sslrootcert=")
    return Target(name=name or f"{host or hostaddr}:{port}", params=params, host=host or hostaddr,
                  address=address, port=port, root=bundle)


def load_targets_file(path: Path, *, root: Path | None = None) -> list[Target]:
    """Read ``targets.yaml``: a list whose items are connection strings or ``{name, dsn, root}`` mappings.

    A top-level ``targets:`` key around the list is accepted too. ``--root`` applies where an item names
    no ``root`` of its own.
    """
    from ..yaml_files import read_yaml_file

    data = read_yaml_file(path, "targets file", SHAPE_HINT)
    if isinstance(data, dict) and "targets" in data:
        data = data["targets"]
    if not isinstance(data, list) or not data:
        raise InvalidValue("targets file", str(path), "a non-empty YAML list", SHAPE_HINT)
    targets = []
    for index, item in enumerate(data, start=1):
        if isinstance(item, str):
            targets.append(parse_target(item, root=root))
            continue
        if not isinstance(item, dict) or not isinstance(item.get("dsn"), str):
            raise InvalidValue(f"targets file item {index}", item if not isinstance(item, dict) else sorted(item),
                               "a connection string or a mapping with a 'dsn' string",
                               "e.g. '- {name: prod, dsn: \"host=db port=5432 user=auditor\"}'")
        unknown = sorted(set(item) - {"name", "dsn", "root"})
        if unknown:
            raise InvalidValue(f"targets file item {index} key", unknown, ["name", "dsn", "root"])
        item_root = Path(str(item["root"])).expanduser() if item.get("root") else root
        targets.append(parse_target(item["dsn"], root=item_root, name=item.get("name")))
    return targets


def unique_names(targets: Sequence[Target]) -> list[Target]:
    """Give repeated names a ``#2`` suffix so that reports and JUnit cases stay distinct."""
    seen: dict[str, int] = {}
    result = []
    for target in targets:
        count = seen.get(target.name, 0) + 1
        seen[target.name] = count
        if count > 1:
            target = replace(target, name=f"{target.name} #{count}")
        result.append(target)
    return result


def _port(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise InvalidValue("target port", text, "an integer from 1 to 65535") from None
    if not 1 <= number <= 65535:
        raise InvalidValue("target port", text, "an integer from 1 to 65535")
    return number


def _resolve(host: str) -> str:
    """The first IPv4/IPv6 address of ``host`` (an address is returned as it is)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InvalidValue("target host", host, "a name this machine can resolve", exc.strerror) from None
    return str(infos[0][4][0])


def _redacted(text: str) -> str:
    """A target string with anything after ``password=`` (or a URI's ``:secret@``) hidden, for errors."""
    import re

    text = re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", text, flags=re.IGNORECASE)
    return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", text)
