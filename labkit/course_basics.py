"""Helpers for the first lessons (00 requirements, 01 PKI, 10-12 layers 1-3).

Why this module exists: those notebooks compare their verdict tables with nbval on two backends (local
binaries and Docker), so what they print must not depend on where the server runs. Raw client errors and
server-log lines carry ports, the client address (127.0.0.1 locally, the bridge gateway through Docker),
configuration-file paths and timestamps. :func:`gist` reduces such a text to the sentence a reader needs;
:func:`outcome_frame` and :func:`verdict` build the tables the lessons show; :func:`issue_client_by_root`
makes the one certificate the lab PKI does not have (a client leaf signed directly by the root, for the
guide's "root on both sides" layout).
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .errors import InvalidValue
from .tables import BAD, GOOD

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

    from .attempts import AttemptResult
    from .layers import ApplyResult
    from .pki import LabPKI
    from .server import LabServer

__all__ = ["gist", "server_reason", "auth_method", "session_ssl", "expected_libpq", "try_layout", "compatibility_check",
           "paint_compatibility", "GUIDE_OPENSSL_TABLE", "GUIDE_POSTGRES_TABLE", "guide_openssl_row", "outcome_frame",
           "apply_frame", "lesson_hba_rows", "issue_client_by_root", "settings_frame"]

_PREFIX = re.compile(r'^connection to server at "[^"]*", port \d+ failed:\s*')
_LOG_PREFIX = re.compile(r"^\S+ \S+ \S+ \[\d+\] (?:\S*@\S* )?")  # "2026-.. 10:.. UTC [123] user@db "
_ADDRESS = re.compile(r'(host[= ]"?)\d{1,3}(\.\d{1,3}){3}("?)')
_ABS_PATH = re.compile(r"""(?<![\w.])/(?:[^\s"'/]+/)+([^\s"'/]+)""")


def gist(text: str | None, *, lines: int = 1) -> str:
    """The meaningful words of a client error or server log: no connection prefix, no log prefix, the
    client address and configuration-file folders replaced, blank space collapsed, first ``lines`` lines."""
    if not text:
        return ""
    out = []
    for raw in str(text).splitlines():
        line = _LOG_PREFIX.sub("", raw.strip())
        line = _PREFIX.sub("", line)
        line = re.sub(r"^LOG:\s+", "", line)
        line = re.sub(r"^(FATAL|ERROR|WARNING|DETAIL|HINT|CONTEXT):\s+", lambda m: m.group(1) + ": ", line)
        line = _ADDRESS.sub(lambda m: f"{m.group(1)}<client>{m.group(3)}", line)
        line = _ABS_PATH.sub(lambda m: m.group(1), line)
        line = re.sub(r"\s+", " ", line).strip()
        if line:
            out.append(line)
    return "\n".join(out[:lines])


def server_reason(result: AttemptResult) -> str:
    """What the server logged about a refused attempt (the line after 'connection received'), in a few words."""
    keep = [ln for ln in result.server_log.splitlines()
            if "connection received" not in ln and "connection authenticated" not in ln
            and "connection authorized" not in ln]
    if result.connected:
        return "connection authorized"
    return gist("\n".join(keep), lines=2).replace("\n", " / ") or "(nothing logged)"


def outcome_frame(results: Iterable[AttemptResult], *, extra: Mapping[str, Sequence[Any]] | None = None,
                  server_side: bool = True, psql: bool = True) -> pd.DataFrame:
    """The compared table of a set of attempts: label, connected, outcome, client's words, server's words,
    and the ``psql`` command a reader would type. Nothing in it depends on the backend or the port."""
    rows = []
    for r in results:
        row: dict[str, Any] = {"attempt": r.label, "connected": r.connected, "outcome": r.outcome,
                               "client says": "" if r.connected else gist(r.error_text)}
        if server_side:
            row["server log says"] = server_reason(r)
        if psql:
            row["psql"] = r.psql
        rows.append(row)
    frame = pd.DataFrame(rows)
    for name, values in (extra or {}).items():
        frame.insert(1, name, list(values))
    return frame


def apply_frame(result: ApplyResult) -> pd.DataFrame:
    """ApplyResult.summary() without the volatile columns, its details reduced with :func:`gist`."""
    frame = result.summary().drop(columns=["seconds"])
    frame["detail"] = [gist(d) for d in frame["detail"]]
    return frame


def lesson_hba_rows(lab: LabServer, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of a pg_hba table (``hba_first_match`` or ``pg_hba_file_rules``) that belong to the lesson,
    i.e. below labkit's admin-channel lines, which differ between backends."""
    text = lab.hba_text().splitlines()
    first = next((i + 1 for i, line in enumerate(text) if line.startswith("# -- lesson rules --")), 0)
    return frame[frame["line_number"] > first].reset_index(drop=True)


def settings_frame(lab: LabServer, names: Sequence[str]) -> pd.DataFrame:
    """name, setting (file settings shown by file name), default, where it was set (file name only)."""
    rows = lab.execute("SELECT name, setting, boot_val, sourcefile FROM pg_settings WHERE name = ANY(%s) "
                       "ORDER BY name", (list(names),))
    out = []
    for r in rows:
        value = r["setting"]
        if r["name"].endswith("_file") and value:
            value = Path(value).name
        out.append({"name": r["name"], "setting": value, "built-in default": r["boot_val"],
                    "set in": Path(r["sourcefile"]).name if r["sourcefile"] else "(default)"})
    return pd.DataFrame(out, columns=["name", "setting", "built-in default", "set in"])


def issue_client_by_root(pki: LabPKI, role: str = "conssl", name: str = "client-by-root") -> tuple[Path, Path]:
    """A client certificate (CN = ``role``) signed directly by the lab root, for the guide's third layout
    ("the leaf was issued by root.crt"). The lab PKI issues extra clients from the intermediate only.

    Written as ``certs/<name>.crt`` and ``private/<name>.key`` (0600) under the PKI; reissued each call.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    if not isinstance(role, str) or not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise InvalidValue("role", role, "a PostgreSQL role name in lower case, e.g. 'conssl'")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name):
        raise InvalidValue("name", name, "a file stem such as 'client-by-root'")
    root_cert = x509.load_pem_x509_certificate(pki.paths.root_crt.read_bytes())
    root_key = serialization.load_pem_private_key(pki.paths.root_key.read_bytes(), password=None)
    if pki.key_type.startswith("rsa-"):
        key: Any = rsa.generate_private_key(public_exponent=65537, key_size=int(pki.key_type.split("-")[1]))
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pgtls-lab"),
                                 x509.NameAttribute(NameOID.COMMON_NAME, role)]))
        .issuer_name(root_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=pki.key_type.startswith("rsa-"),
                                     content_commitment=False, data_encipherment=False, key_agreement=False,
                                     key_cert_sign=False, crl_sign=False, encipher_only=False,
                                     decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    crt_path = pki.root_dir / "certs" / f"{name}.crt"
    key_path = pki.root_dir / "private" / f"{name}.key"
    crt_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    crt_path.chmod(0o644)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return crt_path, key_path


# The guide's two tables (Fase #1, "Versiones compatibles de SSL/TLS con OpenSSL / con PostgreSQL"),
# columns SSLv2, SSLv3, TLS 1.0, 1.1, 1.2, 1.3, as the guide writes them.
GUIDE_PROTOCOLS: tuple[str, ...] = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
GUIDE_OPENSSL_TABLE: dict[str, tuple[str, ...]] = {
    "OpenSSL 1.0.x": ("disable", "disable", "true", "true", "true", "false"),
    "OpenSSL 1.1.x": ("false", "false", "true", "true", "true", "false"),
    "OpenSSL 1.1.1": ("false", "false", "true", "true", "true", "true"),
    "OpenSSL 3.0.x": ("false", "false", "true", "true", "true", "true"),
}
GUIDE_POSTGRES_TABLE: dict[int, tuple[str, ...]] = {
    major: ("false", "false", "true", "true", "true", "true") for major in (12, 13, 14, 15, 16, 17)
}


def guide_openssl_row(server_openssl: str | None) -> str:
    """The guide's OpenSSL row that describes a server OpenSSL version string such as '1.1.1' or '3.0.13'."""
    text = str(server_openssl or "")
    if text.startswith("1.1.1"):
        return "OpenSSL 1.1.1"
    if text.startswith("1.1"):
        return "OpenSSL 1.1.x"
    if text.startswith("1.0"):
        return "OpenSSL 1.0.x"
    return "OpenSSL 3.0.x"


def compatibility_check(*, default_probe: pd.DataFrame, legacy_probe: pd.DataFrame,
                        python_can: Mapping[str, bool], libpq_can: Mapping[str, bool], server_openssl: str | None,
                        major: int, enumvals: Sequence[str]) -> pd.DataFrame:
    """The guide's two version tables next to what was measured, one row per protocol, with a verdict.

    ``default_probe``/``legacy_probe`` are :func:`labkit.tlsprobe.probe_matrix` frames at the default floor
    and with ``ssl_min_protocol_version = 'TLSv1'``; ``python_can``/``libpq_can`` say whether each client
    could offer each TLS version. A "true" of the guide agrees only when the server accepts the version at
    its default settings.
    """
    row_name = guide_openssl_row(server_openssl)
    if major not in GUIDE_POSTGRES_TABLE:
        raise InvalidValue("major", major, tuple(GUIDE_POSTGRES_TABLE))
    by_version = {name: (d, lg) for name, d, lg in zip(default_probe["version_asked"], default_probe["result"],
                                                      legacy_probe["result"])}
    rows = []
    for i, name in enumerate(GUIDE_PROTOCOLS):
        guide_ossl, guide_pg = GUIDE_OPENSSL_TABLE[row_name][i], GUIDE_POSTGRES_TABLE[major][i]
        if name.startswith("SSL"):
            default = legacy = "no setting value"
            text = f"agrees: PostgreSQL has no value for it ({', '.join(enumvals)})"
            py, lp = bool(python_can.get(name, False)), bool(libpq_can.get(name, False))
        else:
            default, legacy = by_version[name]
            py, lp = bool(python_can[name]), bool(libpq_can[name])
            if guide_pg == "true" and default == "accepted":
                text = "agrees"
            elif guide_pg != "true" and default != "accepted":
                text = "agrees"
            elif legacy == "accepted":
                text = "guide too generous: refused by default (floor TLSv1.2); accepted only after lowering the floor"
            else:
                text = "guide too generous: refused even with the floor lowered (this server's OpenSSL)"
            if guide_pg == "true" and not lp:
                text += "; and today's libpq cannot offer it at all"
        rows.append({"protocol": name, f"guide: {row_name}": guide_ossl, f"guide: PostgreSQL {major}": guide_pg,
                     "server, defaults": default, "server, min TLSv1": legacy,
                     "Python ssl can offer": py, "libpq can offer": lp, "verdict": text})
    return pd.DataFrame(rows)


def paint_compatibility(frame: pd.DataFrame, uuid: str = "compat") -> Styler:
    """Green where the guide agrees with the measurement, red where it does not; accepted/refused cells too."""
    def paint(row: pd.Series) -> list[str]:
        ok = str(row["verdict"]).startswith("agrees")
        return [(GOOD if ok else BAD) if c in ("protocol", "verdict") else
                (GOOD if row[c] == "accepted" else BAD if row[c] == "refused" else "") for c in row.index]

    return frame.style.apply(paint, axis=1).set_uuid(uuid).hide(axis="index").set_properties(
        **{"text-align": "left"})


def try_layout(lesson: Any, label: str, *, server_cert: str, ca_bundle: str | None, rootcert: Path,
               client_cert: Path | None, client_key: Path | None, user: str = "conssl") -> AttemptResult:
    """Configure one ssl_cert_file / ssl_ca_file layout and try a ``verify-full`` client against it.

    Server: L1 with ``server_cert`` (a lab PKI name such as ``server`` or ``server_chain``), L6 with
    ``ca_bundle`` (``combined``, ``root_only``... or None for no ``ssl_ca_file``), and, when a client
    certificate is given, L3 ``hostssl ... cert clientcert=verify-full`` so the certificate is what logs the
    user in. Each call writes every setting it depends on (and, without ``ca_bundle``, first resets the lab
    to its starting configuration), so layouts do not leak into each other.
    """
    from . import attempts, layers

    lab, pki = lesson.lab, lesson.pki
    if ca_bundle is None or client_cert is None:
        lab.reset_config()
    chosen = [layers.layer_ssl_on(pki, server_cert)]
    if ca_bundle is not None:
        chosen.append(layers.layer_ca(pki, ca_bundle))
    if client_cert is not None:
        chosen.append(layers.layer_hostssl("cert", (user,), clientcert="verify-full"))
    result = layers.apply(lab, *chosen)
    if not result.ok:
        raise InvalidValue("layout", label, "a layout the server accepts", result.reason)
    if client_cert is None:
        return attempts.attempt(lab, label=label, sslmode="verify-full", sslrootcert=rootcert)
    return attempts.attempt(lab, label=label, sslmode="verify-full", user=user, password=None,
                            sslrootcert=rootcert, sslcert=client_cert, sslkey=client_key)


def auth_method(result: AttemptResult) -> str:
    """How the server authenticated a connected attempt, from its log ('scram-sha-256', 'cert'...)."""
    found = re.search(r"connection authenticated: .*?method=(\S+)", result.server_log)
    if found:
        return found.group(1)
    return "" if not result.connected else "(not logged)"


def session_ssl(result: AttemptResult) -> dict[str, Any]:
    """The attempt's own pg_stat_ssl row, reduced to the stable columns (ssl, version, cipher, client_dn)."""
    row = result.pg_stat_ssl or {}
    if not result.connected:
        return {"pg_stat_ssl.ssl": None, "version": None, "cipher": None}
    return {"pg_stat_ssl.ssl": row.get("ssl"), "version": row.get("version"), "cipher": row.get("cipher")}


_ORDER = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


def expected_libpq(server_min: str, server_max: str, client_max: str, client_floor: str = "TLSv1.2") -> str | None:
    """The version a libpq client capped at ``client_max`` should negotiate with a server allowing
    ``server_min``..``server_max`` ('' = no cap), or None when the ranges do not meet. ``client_floor`` is
    the lowest version the client library can really offer (TLS 1.2 for OpenSSL 3 at its default level)."""
    low = max(_ORDER.index(server_min), _ORDER.index(client_floor))
    high = min(_ORDER.index(server_max) if server_max else len(_ORDER) - 1, _ORDER.index(client_max))
    return _ORDER[high] if low <= high else None
