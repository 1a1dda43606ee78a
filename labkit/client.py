"""Try one client connection to the lab and return everything both ends said about it.

Why this module exists: every lesson of the course is "apply a server layer, try connections, tabulate what
client and server report". :func:`attempt` is that "try": it connects with the libpq parameters a reader
would type into ``psql``, and returns an :class:`AttemptResult` holding the outcome, the TLS facts seen by
the client, by ``pg_stat_ssl`` and by ``sslinfo``, the raw client error, the server log lines of this very
attempt, and the error catalogue's diagnosis (:mod:`labkit.catalogue`). :func:`labkit.tables.attempts` turns a list
of results into the table a notebook shows.

Client defaults are isolated. libpq reads ``~/.postgresql/{root.crt,root.crl,postgresql.crt,postgresql.key}``
whenever the matching parameter is not given -- and a ``root.crt`` there silently turns ``sslmode=require``
into certificate verification. Measured with the libpq 18 bundled in psycopg's wheel: libpq takes the home
directory from ``$HOME`` at connect time, in-process (falling back to the password database only when
``$HOME`` is unset or empty). So a lab result must never depend on the reader's real home. By default every
one of those parameters the caller did not give is passed explicitly, pointing into an empty folder of the
lab workspace (``<workspace>/client/no-home/.postgresql/...``), which libpq treats exactly like "file not
there". With ``home=<dir>`` (the lesson on libpq's defaults) nothing is passed for them and ``$HOME`` is set
to ``<dir>`` for the duration of the connect, so libpq's own default lookup finds ``<dir>/.postgresql/...``.

The same goes for libpq's environment variables (``PGSSLCERT``, ``PGSSLCERTMODE``, ``PGPASSWORD``...): when
one is set, attempt() passes that keyword explicitly with libpq's default, and says so in ``client_defaults``
(``PGSERVICE`` cannot be neutralised this way; leave it unset for the lab).

Two ways to hand a decision back to libpq on purpose: ``sslmode=None`` passes no sslmode (libpq's default:
``prefer``, or ``verify-full`` with ``sslrootcert=system``; a ``PGSSLMODE`` in the reader's environment is
hidden for the connect), and ``env=`` sets libpq's environment variables for one attempt (shown in front of
the ``psql`` command, never neutralised). Secrets are masked only where a value can be echoed -- after
``=`` or inside quotes -- so libpq's own words are never altered (a password ``pass`` once turned
``password authentication failed`` into ``***word ...``).

Other isolation: ``gssencmode=disable`` (GSS encryption, when a Kerberos ticket exists, would replace TLS
and make the lesson measure the wrong thing), an explicit ``passfile`` (the lab's, or a path that does not
exist), and an OpenSSL key-passphrase hook so an encrypted ``sslkey`` without ``sslpassword`` fails with a
message instead of prompting on the terminal that launched Jupyter (which would hang the kernel).
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import re
import shlex
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row

from . import catalogue
from .attempt_log import LOG_WAIT_SECONDS, collect_log
from .environment import temporary_environment
from .errors import InvalidValue, LabkitError

if TYPE_CHECKING:
    from .server import LabServer

__all__ = ["LAB_PASSWORD", "SSLMODES", "AttemptResult", "attempt", "open_session", "session"]

#: Sentinel for ``password=``: use the lab's passfile (which holds the ``postgres`` role's password).
LAB_PASSWORD = "lab"
SSLMODES: tuple[str, ...] = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
CONNECT_TIMEOUT = 5

_SECRET_KEYS = frozenset({"password", "sslpassword"})
_DEFAULT_FILES = {"sslrootcert": "root.crt", "sslcrl": "root.crl", "sslcert": "postgresql.crt",
                  "sslkey": "postgresql.key"}
# libpq reads these environment variables for any keyword not given; a reader's shell profile (e.g. an
# exported PGSSLCERTMODE or PGPASSWORD) must not change a lab result, so when one is set attempt() passes the
# keyword explicitly with libpq's own default ("" means "not set" to libpq).
_NEUTRAL_ENV: dict[str, tuple[str, str]] = {
    "PGPASSWORD": ("password", ""), "PGHOSTADDR": ("hostaddr", ""), "PGOPTIONS": ("options", ""),
    "PGSSLCERTMODE": ("sslcertmode", "allow"), "PGSSLNEGOTIATION": ("sslnegotiation", "postgres"),
    "PGSSLSNI": ("sslsni", "1"), "PGSSLCRLDIR": ("sslcrldir", ""), "PGREQUIREAUTH": ("require_auth", ""),
    "PGCHANNELBINDING": ("channel_binding", "prefer"), "PGSSLCOMPRESSION": ("sslcompression", "0"),
    "PGSSLMINPROTOCOLVERSION": ("ssl_min_protocol_version", "TLSv1.2"),
    "PGSSLMAXPROTOCOLVERSION": ("ssl_max_protocol_version", ""),
    "PGTARGETSESSIONATTRS": ("target_session_attrs", "any"),
}
# The default-file variables: in home= mode libpq must fall back to <home>/.postgresql, so they are removed
# from the environment for the duration of the connect (in isolated mode the keywords are passed anyway).
_FILE_ENV = ("PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY", "PGSSLCRL")

# ------------------------------------------------------------------------------------------------------
# The result
# ------------------------------------------------------------------------------------------------------


@dataclass
class AttemptResult:
    """One connection attempt as both ends saw it. Holds no secret: passwords appear as ``***``."""

    label: str
    params: dict[str, str]
    psql: str
    connected: bool
    client_defaults: str = "isolated"
    ssl: bool | None = None
    tls_version: str | None = None
    cipher: str | None = None
    bits: int | None = None
    compression: str | None = None
    alpn: str | None = None  # what the server selected (libpq 17+ offers "postgresql"; 16 selects none)
    ssl_is_used: bool | None = None
    ssl_client_cert_present: bool | None = None
    ssl_client_serial: str | None = None
    ssl_client_dn: str | None = None
    ssl_issuer_dn: str | None = None
    pg_stat_ssl: dict[str, Any] = field(default_factory=dict)
    server_version: str | None = None
    current_user: str | None = None
    error_key: str | None = None
    error_class: str | None = None
    error_text: str = ""
    server_log: str = ""
    duration_ms: float = 0.0
    workspace: str = ""

    @property
    def short_psql(self) -> str:
        """:attr:`psql` with paths inside the lab workspace written relative to it (run it from there)."""
        if not self.workspace:
            return self.psql
        return re.sub(r"(?<=[=\s\"'])" + re.escape(self.workspace.rstrip("/") + "/"), "", self.psql)

    @property
    def entry(self) -> catalogue.CatalogueEntry | None:
        """The catalogue entry of the error (cause and fix), when one matched."""
        return catalogue.by_key(self.error_key) if self.error_key else None

    @property
    def outcome(self) -> str:
        """A short word for tables: 'TLSv1.3', 'no TLS', or the error key ('refused' when unclassified)."""
        if self.connected:
            return self.tls_version or "no TLS"
        return self.error_key or "refused"

    def as_row(self) -> dict[str, Any]:
        """A flat dict for a DataFrame row (pg_stat_ssl stays a dict in one cell)."""
        row = asdict(self)
        row["outcome"] = self.outcome
        entry = self.entry
        row["fix"] = entry.fix if entry else ""
        return row


# ------------------------------------------------------------------------------------------------------
# libpq helpers (ctypes on the libpq that psycopg already loaded)
# ------------------------------------------------------------------------------------------------------


class _Libpq:
    """The libpq loaded in this process, for the two things psycopg does not expose."""

    _lib: ctypes.CDLL | None = None
    _looked = False
    hook_installed = False
    _lock = threading.Lock()

    @classmethod
    def lib(cls) -> ctypes.CDLL | None:
        with cls._lock:
            if not cls._looked:
                cls._looked = True
                cls._lib = cls._load()
            return cls._lib

    @staticmethod
    def _load() -> ctypes.CDLL | None:
        path: str | None = None
        try:  # the copy psycopg really uses (the wheel bundles its own libpq)
            with open("/proc/self/maps") as maps:
                for line in maps:
                    name = line.rsplit(None, 1)[-1]
                    if "/libpq" in name and ".so" in name:
                        path = name
                        break
        except OSError:
            path = None
        path = path or ctypes.util.find_library("pq")
        if not path:
            return None
        try:
            lib = ctypes.CDLL(path)
            lib.PQsslAttribute.restype = ctypes.c_char_p
            lib.PQsslAttribute.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        except (OSError, AttributeError):
            return None
        return lib

    @classmethod
    def ssl_attribute(cls, conn: psycopg.Connection[Any], name: str) -> str | None:
        lib = cls.lib()
        if lib is None:
            return None
        value = lib.PQsslAttribute(conn.pgconn.pgconn_ptr, name.encode())  # type: ignore[attr-defined]
        return value.decode() if value is not None else None

    @classmethod
    def install_no_prompt_hook(cls) -> bool:
        """Make libpq hand OpenSSL ``sslpassword`` (or an empty passphrase) instead of prompting on a tty.

        libpq installs its own passphrase callback only when ``sslpassword`` is non-empty or an application
        hook is set; otherwise OpenSSL prompts on /dev/tty. Setting libpq's *own default hook* as the
        application hook keeps its behaviour (it returns ``sslpassword``) and removes the prompt.
        """
        lib = cls.lib()
        if cls.hook_installed or lib is None:
            return cls.hook_installed
        with cls._lock:
            try:
                setter = lib.PQsetSSLKeyPassHook_OpenSSL
                getter = lib.PQgetSSLKeyPassHook_OpenSSL
                default = ctypes.cast(lib.PQdefaultSSLKeyPassHook_OpenSSL, ctypes.c_void_p)
            except AttributeError:
                return False
            setter.argtypes = [ctypes.c_void_p]
            getter.restype = ctypes.c_void_p
            if getter() in (None, 0):
                setter(default)
            cls.hook_installed = True
        return True


def _key_is_encrypted(path: str) -> bool:
    try:
        head = Path(path).read_bytes()[:4096]
    except OSError:
        return False
    return b"ENCRYPTED" in head


# ------------------------------------------------------------------------------------------------------
# Building the connection parameters
# ------------------------------------------------------------------------------------------------------


def _isolated_home(lab: LabServer) -> Path:
    """An empty HOME-like folder in the workspace whose ``.postgresql`` must stay empty."""
    home = Path(lab.workspace.path) / "client" / "no-home"
    folder = home / ".postgresql"
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
    present = [name for name in (*_DEFAULT_FILES.values(), "../.pgpass") if (folder / name).exists()]
    if present:
        raise LabkitError(f"the isolation folder {folder} must stay empty but holds {', '.join(present)}",
                          "remove those files; to test libpq's default files use attempt(..., home=<dir>)")
    return home


def _text(value: object) -> str:
    return str(value) if not isinstance(value, bool) else ("1" if value else "0")


def _quote_conninfo_value(value: str) -> str:
    """libpq conninfo quoting: bare when plain, else single quotes with \\ and ' escaped."""
    if value and not re.search(r"[\s'\\]", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _conninfo(params: Mapping[str, str]) -> str:
    return " ".join(f"{k}={_quote_conninfo_value(v)}" for k, v in params.items())


def _shell_word(text: str) -> str:
    """Double quotes as the guide writes them, unless the text needs stronger quoting."""
    if not re.search(r'["$`\\!]', text):
        return f'"{text}"'
    return shlex.quote(text)


@dataclass
class _Plan:
    """What attempt() will pass to libpq, and what it may show."""

    shown: dict[str, str]
    actual: dict[str, Any]
    env_prefix: list[str]
    home: Path | None
    secrets: list[str]
    client_defaults: str
    env: dict[str, str] = field(default_factory=dict)
    unset: tuple[str, ...] = ()

    @property
    def psql(self) -> str:
        return " ".join([*self.env_prefix, "psql", _shell_word(_conninfo(self.shown))])


_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_SECRET_ENV = frozenset({"PGPASSWORD", "PGSSLPASSWORD"})


def _check_env(env: object) -> dict[str, str]:
    """``env=`` checked: variable names as the shell writes them, values on one line."""
    if env is None:
        return {}
    if not isinstance(env, Mapping):
        raise InvalidValue("env", env, "a dict of environment variables", "e.g. env={'PGSSLMODE': 'verify-ca'}")
    checked: dict[str, str] = {}
    for name, value in env.items():
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name) or name == "HOME":
            raise InvalidValue("env name", name, "an upper-case variable name such as 'PGSSLMODE' (not HOME: "
                               "use home=)")
        if not isinstance(value, str) or re.search(r"[\x00-\x1f]", value):
            raise InvalidValue(f"env[{name!r}]", value, "a string on one line")
        checked[name] = value
    return checked


def _plan(lab: LabServer, *, sslmode: str | None, user: str, dbname: str, sslrootcert: object, sslcert: object,
          sslkey: object, sslpassword: str | None, host: str | None, hostaddr: str | None,
          ssl_min_protocol_version: str | None, ssl_max_protocol_version: str | None,
          channel_binding: str | None, password: str | None, home: object,
          extra: Mapping[str, object] | None, env: Mapping[str, str] | None = None) -> _Plan:
    if sslmode is not None and sslmode not in SSLMODES:
        raise InvalidValue("sslmode", sslmode, (*SSLMODES, None),
                           "libpq's six modes, weakest to strongest; None leaves the choice to libpq")
    given_env = _check_env(env)
    if not isinstance(user, str) or not user:
        raise InvalidValue("user", user, "a role name", "e.g. user='conssl'")
    if extra is not None and not isinstance(extra, Mapping):
        raise InvalidValue("extra", extra, "a dict of libpq keywords", "e.g. extra={'sslcertmode': 'disable'}")
    home_dir: Path | None = None
    if home is not None:
        home_dir = Path(home).expanduser().absolute()  # type: ignore[arg-type]
        if not home_dir.is_dir():
            raise InvalidValue("home", str(home), "an existing directory",
                               "create it and put the client files in <home>/.postgresql/")

    shown: dict[str, str] = {"host": host or lab.host}
    if hostaddr:
        shown["hostaddr"] = hostaddr
    shown.update({"port": str(lab.port), "user": user, "dbname": dbname})
    if sslmode is not None:  # None: libpq decides (prefer, or verify-full with sslrootcert=system)
        shown["sslmode"] = sslmode
    optional = {"sslrootcert": sslrootcert, "sslcert": sslcert, "sslkey": sslkey,
                "ssl_min_protocol_version": ssl_min_protocol_version,
                "ssl_max_protocol_version": ssl_max_protocol_version, "channel_binding": channel_binding}
    shown.update({k: _text(v) for k, v in optional.items() if v is not None})
    for key, value in (extra or {}).items():
        if not isinstance(key, str) or not re.fullmatch(r"[a-z_]+", key):
            raise InvalidValue("extra key", key, "a libpq keyword such as 'sslcertmode'")
        shown[key] = _text(value)
    secrets = [v for k, v in shown.items() if k in _SECRET_KEYS and v]
    actual: dict[str, Any] = dict(shown)
    for key in _SECRET_KEYS & shown.keys():
        shown[key] = "***"
    if sslpassword is not None:
        actual["sslpassword"] = sslpassword
        shown["sslpassword"] = "***"
        if sslpassword:
            secrets.append(sslpassword)

    env_prefix: list[str] = [f"{name}={'***' if name in _SECRET_ENV else shlex.quote(value)}"
                             for name, value in given_env.items()]
    secrets += [value for name, value in given_env.items() if name in _SECRET_ENV and value]
    if home_dir is not None:
        env_prefix.append(f"HOME={shlex.quote(str(home_dir))}")
        client_defaults = f"HOME={home_dir}"
    else:
        no_home = _isolated_home(lab)
        for key, name in _DEFAULT_FILES.items():
            if f"PG{key.upper()}" not in given_env:  # a file named by env= is the caller's choice
                actual.setdefault(key, str(no_home / ".postgresql" / name))
        if shown.get("sslcrldir") and "sslcrl" not in shown and "PGSSLCRL" not in given_env:
            # libpq loads sslcrl and sslcrldir in one call: a missing sslcrl file makes it drop the directory
            # too (no revocation check at all, measured with libpq 18). With sslcrldir set, an empty sslcrl
            # reads no default file, so the isolation needs none.
            actual["sslcrl"] = ""
        client_defaults = "isolated"

    if password == LAB_PASSWORD:
        actual.setdefault("passfile", str(lab.workspace.passfile))
        env_prefix.append(f"PGPASSFILE={shlex.quote(str(lab.workspace.passfile))}")
    elif password is None:
        # no password at all: a passfile that does not exist, so ~/.pgpass is not read either
        actual.setdefault("passfile", str(_isolated_home(lab) / ".pgpass"))
    else:
        actual["password"] = password
        env_prefix.append("PGPASSWORD=***")
        secrets.append(password)
    actual.setdefault("gssencmode", "disable")
    actual.setdefault("connect_timeout", CONNECT_TIMEOUT)
    ignored = [var for var in _FILE_ENV if os.environ.get(var) is not None and var not in given_env]
    for var, (key, neutral) in _NEUTRAL_ENV.items():
        if os.environ.get(var) is not None and var not in given_env:
            actual.setdefault(key, neutral)
            ignored.append(var)
    unset: tuple[str, ...] = ()
    if sslmode is None and "PGSSLMODE" not in given_env and os.environ.get("PGSSLMODE") is not None:
        unset = ("PGSSLMODE",)  # "left to libpq" means libpq's default, not the reader's shell profile
        ignored.append("PGSSLMODE")
    if ignored:
        client_defaults += f" (ignored from the environment: {', '.join(sorted(ignored))})"
    if given_env:
        client_defaults += f" (env: {', '.join(given_env)})"
    return _Plan(shown, actual, env_prefix, home_dir, secrets, client_defaults, given_env, unset)


def _connect_env(plan: _Plan) -> contextlib.AbstractContextManager[None]:
    """The environment libpq sees during the connect: ``env=`` set; with ``home=``, $HOME set and PGSSLCERT &
    co. hidden (unless ``env=`` names them) so libpq finds its default files in ``home``."""
    if plan.home is None and not plan.env and not plan.unset:
        return contextlib.nullcontext()
    changes = dict(plan.env)
    unset = list(plan.unset)
    if plan.home is not None:
        changes["HOME"] = str(plan.home)
        unset += [var for var in _FILE_ENV if var not in plan.env]
    return temporary_environment(changes, unset=unset)


def _connect(plan: _Plan, **kwargs: Any) -> psycopg.Connection[Any]:
    sslkey = plan.actual.get("sslkey")
    if not _Libpq.install_no_prompt_hook() and sslkey and not plan.actual.get("sslpassword") \
            and _key_is_encrypted(str(sslkey)):
        raise LabkitError(f"the key {sslkey} is encrypted and no sslpassword was given; libpq would prompt on the "
                          "terminal and hang the notebook", "pass sslpassword=... (a wrong one shows 'bad decrypt')")
    try:
        with _connect_env(plan):
            return psycopg.connect(**plan.actual, **kwargs)
    except psycopg.ProgrammingError as exc:  # an unknown keyword in extra=: our caller's mistake, not a lesson
        raise InvalidValue("extra", {k: v for k, v in plan.shown.items()}, "libpq connection keywords",
                           f"libpq said: {str(exc).strip()}") from None


# ------------------------------------------------------------------------------------------------------
# attempt / session
# ------------------------------------------------------------------------------------------------------


def _redact(text: str, secrets: Iterable[str]) -> str:
    """Mask a secret where libpq or the server could echo it: as a value -- right after ``=`` or inside
    quotes, and as a whole token. libpq's own words are never touched: a password ``pass`` leaves
    ``password authentication failed`` as it is (a plain ``str.replace`` made it ``***word ...``)."""
    for secret in secrets:
        if secret:
            text = re.sub(r"(?<=[=\"'])" + re.escape(secret) + r"(?=[\"'\s,;)]|$)", "***", text)
    return text


def _client_message(exc: BaseException) -> str:
    """libpq's message as psql would print it: psycopg's 'connection failed: ' prefix removed."""
    text = str(exc).strip()
    for prefix in ("connection failed: ", "connection is bad: "):
        text = text.removeprefix(prefix)
    return text


def _facts(conn: psycopg.Connection[Any], result: AttemptResult) -> bool:
    """Fill the TLS facts: libpq's view, the session's pg_stat_ssl row, and sslinfo when installed.
    Returns whether the server logs connections (if not, there is no log line to wait for)."""
    result.ssl = bool(conn.pgconn.ssl_in_use)
    if result.ssl:
        result.tls_version = _Libpq.ssl_attribute(conn, "protocol")
        result.cipher = _Libpq.ssl_attribute(conn, "cipher")
        bits = _Libpq.ssl_attribute(conn, "key_bits")
        result.bits = int(bits) if bits and bits.isdigit() else None
        result.compression = _Libpq.ssl_attribute(conn, "compression")
        result.alpn = _Libpq.ssl_attribute(conn, "alpn") or None
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        row = cur.fetchone() or {}
        result.pg_stat_ssl = {k: (str(v) if k == "client_serial" and v is not None else v) for k, v in row.items()}
        cur.execute("SELECT current_setting('server_version') AS server_version, current_user::text AS who, "
                    "to_regproc('ssl_is_used') IS NOT NULL AS has_sslinfo, "
                    "current_setting('log_connections') AS log_connections")
        info = cur.fetchone() or {}
        result.server_version = info.get("server_version")
        result.current_user = info.get("who")
        if info.get("has_sslinfo"):
            cur.execute("SELECT ssl_is_used() AS used, ssl_client_cert_present() AS present, "
                        "ssl_client_serial()::text AS serial, ssl_client_dn() AS dn, ssl_issuer_dn() AS issuer")
            s = cur.fetchone() or {}
            result.ssl_is_used = s.get("used")
            result.ssl_client_cert_present = s.get("present")
            result.ssl_client_serial = s.get("serial")
            result.ssl_client_dn = s.get("dn")
            result.ssl_issuer_dn = s.get("issuer")
        else:  # sslinfo lives in db postgres only; pg_stat_ssl says nearly as much
            result.ssl_is_used = bool(row.get("ssl")) if row else None
            result.ssl_client_cert_present = bool(row.get("client_dn")) if row else None
            result.ssl_client_serial = result.pg_stat_ssl.get("client_serial")
            result.ssl_client_dn = row.get("client_dn")
            result.ssl_issuer_dn = row.get("issuer_dn")
    if result.tls_version is None and row.get("version"):
        result.tls_version, result.cipher = row.get("version"), row.get("cipher")
        result.bits = row.get("bits")
    return info.get("log_connections") != "off"


def attempt(lab: LabServer, *, label: str = "", sslmode: str | None = "prefer", user: str = "postgres",
            dbname: str = "postgres", sslrootcert: str | Path | None = None, sslcert: str | Path | None = None,
            sslkey: str | Path | None = None, sslpassword: str | None = None, host: str | None = None,
            hostaddr: str | None = None, ssl_min_protocol_version: str | None = None,
            ssl_max_protocol_version: str | None = None, channel_binding: str | None = None,
            password: str | None = LAB_PASSWORD, home: str | Path | None = None,
            extra: Mapping[str, object] | None = None, env: Mapping[str, str] | None = None) -> AttemptResult:
    """Try one connection to ``lab`` and report it (never raises for a refused connection).

    Parameters are libpq's keywords. ``host`` defaults to the lab's address. ``password``: the default
    ``"lab"`` uses the lab's passfile (right for ``postgres``); pass the real password for other roles, or
    ``None`` for none at all (certificate authentication). ``home``: let libpq find its default client files
    in ``<home>/.postgresql/`` (otherwise they are isolated, see the module docstring). ``extra``: any other
    libpq keyword (``sslcertmode``, ``sslcrl``, ``port``...). ``sslmode=None`` passes no sslmode at all, so
    libpq applies its own default (``prefer``; ``verify-full`` with ``sslrootcert=system``). ``env``:
    environment variables libpq reads during this connect only (``{"PGSSLMODE": "verify-ca"}``); a
    variable given there is not neutralised, and it is shown in front of the ``psql`` command.

    A refusal is classified with :func:`labkit.catalogue.classify`; when libpq's "certificate verify failed"
    comes with ``sslcrl``/``sslcrldir`` in ``extra``, the attempt is repeated without them to measure
    whether the CRL (not the server's CA) is at fault (``client_crl_unusable``).

    Raises :class:`~labkit.errors.InvalidValue` only for a mistake in the call itself (unknown sslmode,
    unknown keyword in ``extra``, ``home`` not a directory).
    """
    plan = _plan(lab, sslmode=sslmode, user=user, dbname=dbname, sslrootcert=sslrootcert, sslcert=sslcert,
                 sslkey=sslkey, sslpassword=sslpassword, host=host, hostaddr=hostaddr,
                 ssl_min_protocol_version=ssl_min_protocol_version,
                 ssl_max_protocol_version=ssl_max_protocol_version, channel_binding=channel_binding,
                 password=password, home=home, extra=extra, env=env)
    result = AttemptResult(label=label, params=dict(plan.shown), psql=plan.psql, connected=False,
                           client_defaults=plan.client_defaults, workspace=str(lab.workspace.path))
    mark = lab.log_mark()
    started = time.perf_counter()
    own_pid: int | None = None
    logged = True
    try:
        conn = _connect(plan, autocommit=True)
    except psycopg.OperationalError as exc:
        result.error_text = _redact(_client_message(exc), plan.secrets)
    else:
        try:
            result.connected = True
            own_pid = conn.info.backend_pid
            logged = _facts(conn, result)
        finally:
            conn.close()
    result.duration_ms = round((time.perf_counter() - started) * 1000, 2)
    if str(plan.actual.get("port")) == str(lab.port):  # extra={"port": ...} may aim elsewhere: no lab log then
        result.server_log = _redact(collect_log(lab, mark, result.connected, own_pid, result.error_text,
                                                 wait=LOG_WAIT_SECONDS if logged else 0.0), plan.secrets)
    if not result.connected:
        entry = catalogue.classify(result.error_text, result.server_log)
        if entry is not None:
            result.error_key, result.error_class = entry.key, entry.error_class
    crl_keys = {"sslcrl", "sslcrldir"} & set(extra or {})
    if result.error_key == "server_cert_untrusted" and crl_keys:
        # libpq words "the client's CRL is from another CA" exactly like "untrusted server": measure which,
        # by the same attempt without the CRL (a second real handshake).
        control = attempt(lab, label=label, sslmode=sslmode, user=user, dbname=dbname, sslrootcert=sslrootcert,
                          sslcert=sslcert, sslkey=sslkey, sslpassword=sslpassword, host=host, hostaddr=hostaddr,
                          ssl_min_protocol_version=ssl_min_protocol_version,
                          ssl_max_protocol_version=ssl_max_protocol_version, channel_binding=channel_binding,
                          password=password, home=home, env=env,
                          extra={k: v for k, v in (extra or {}).items() if k not in crl_keys})
        if control.error_key != "server_cert_untrusted":
            unusable = catalogue.by_key("client_crl_unusable")
            result.error_key, result.error_class = unusable.key, unusable.error_class
    return result


def open_session(lab: LabServer, **kwargs: Any) -> psycopg.Connection[Any]:
    """An open connection (autocommit) made with :func:`attempt`'s keywords, for lessons that must hold one
    across later steps (e.g. a session that outlives a certificate rotation); close it when done. A refused
    connection raises :class:`~labkit.errors.LabkitError` carrying the catalogue's diagnosis."""
    kwargs.pop("label", None)
    defaults: dict[str, Any] = {"sslmode": "prefer", "user": "postgres", "dbname": "postgres",
                                "password": LAB_PASSWORD}
    keys = ("sslmode", "user", "dbname", "sslrootcert", "sslcert", "sslkey", "sslpassword", "host", "hostaddr",
            "ssl_min_protocol_version", "ssl_max_protocol_version", "channel_binding", "password", "home", "extra",
            "env")
    unknown = set(kwargs) - set(keys)
    if unknown:
        raise InvalidValue("keyword", min(unknown), keys, "session() takes the same keywords as attempt()")
    params: dict[str, Any] = {k: kwargs.get(k, defaults.get(k)) for k in keys}
    plan = _plan(lab, **params)
    try:
        return _connect(plan, autocommit=True)
    except psycopg.OperationalError as exc:
        text = _redact(_client_message(exc), plan.secrets)
        entry = catalogue.classify(text)
        hint = entry.fix if entry else "run attempt() with the same keywords to see the server log"
        raise LabkitError(f"connection refused: {text}", hint) from None


@contextlib.contextmanager
def session(lab: LabServer, **kwargs: Any) -> Iterator[psycopg.Connection[Any]]:
    """:func:`open_session` as a ``with`` block: the connection is closed when the block ends."""
    conn = open_session(lab, **kwargs)
    try:
        yield conn
    finally:
        conn.close()
