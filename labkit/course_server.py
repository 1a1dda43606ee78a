"""Small helpers for the server-hardening lessons (13-16, 34) that the shared modules do not offer.

Why a separate module: the lessons on ciphers, CRLs, the CA file, reload validation and TLS versions need a
few measured views that are specific to them -- which TLS 1.2 suites a cipher string expands to, a reload
that still reports when the configuration file is so broken that PostgreSQL does not even record a reload
time, a styled table whose HTML is identical between runs (nbval compares it), and handshake timings.
Nothing here changes how the lab is configured; that stays in :mod:`labkit.layers` and
:class:`labkit.server.LabServer`.
"""
from __future__ import annotations

import re
import ssl
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import psycopg

from .errors import InvalidValue, ServerCommandError

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

    from .server import LabServer

__all__ = ["GUIDE_CIPHERS_CRITICAL", "GUIDE_CIPHERS_NORMAL", "ReloadReport", "cipher_suites", "compare_cipher_strings",
           "handshake_times", "probe_with_log", "reload_and_report"]

GUIDE_CIPHERS_CRITICAL = "HIGH:!aNULL:!MD5:!3DES:!RC4:!DES:!IDEA:!RC2"
"""The guide's string for critical environments (banks, shops), Fase #2 paso 5."""
GUIDE_CIPHERS_NORMAL = "HIGH:MEDIUM:!aNULL:!MD5:!RC4"
"""The guide's string for "normal" environments (commented out in Fase #2 paso 5)."""

_PASS = "background-color: #c8e6c9"
_FAIL = "background-color: #ffcdd2"


# --------------------------------------------------------------------------------------------------------
# Cipher strings
# --------------------------------------------------------------------------------------------------------


def cipher_suites(cipher_string: str) -> pd.DataFrame:
    """The TLS 1.2 (and older) suites an OpenSSL cipher string selects, in OpenSSL's preference order.

    Expanded with this Python's OpenSSL (``SSLContext.set_ciphers`` + ``get_ciphers``), which is what
    ``openssl ciphers -v '<string>'`` prints. TLS 1.3 suites are always listed by ``get_ciphers`` whatever
    the string says (they are configured elsewhere), so they are left out here. Raises
    :class:`InvalidValue` when the string selects nothing.
    """
    if not isinstance(cipher_string, str) or not cipher_string.strip():
        raise InvalidValue("cipher_string", cipher_string, "an OpenSSL cipher string such as 'HIGH:!aNULL'")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.set_ciphers(cipher_string)
    except ssl.SSLError:
        raise InvalidValue("cipher_string", cipher_string,
                           f"an OpenSSL cipher string that selects at least one suite ({ssl.OPENSSL_VERSION})") from None
    rows = []
    for order, suite in enumerate(c for c in context.get_ciphers() if c["protocol"] != "TLSv1.3"):
        rows.append({"order": order + 1, "suite": suite["name"], "min_protocol": suite["protocol"],
                     "key_exchange": suite["kea"].replace("kx-", ""), "auth": suite["auth"].replace("auth-", ""),
                     "cipher": suite["symmetric"], "aead": suite["aead"], "bits": suite["strength_bits"]})
    return pd.DataFrame(rows, columns=["order", "suite", "min_protocol", "key_exchange", "auth", "cipher", "aead",
                                       "bits"])


def compare_cipher_strings(strings: dict[str, str]) -> pd.DataFrame:
    """One row per TLS 1.2 suite selected by any of ``strings`` (label -> cipher string), a yes/no column
    per label; rows in the order of the first string that selects them."""
    expanded = {label: cipher_suites(text) for label, text in strings.items()}
    seen: dict[str, dict[str, Any]] = {}
    for label, frame in expanded.items():
        for rec in frame.to_dict("records"):
            row = seen.setdefault(rec["suite"], {k: rec[k] for k in ("suite", "key_exchange", "auth", "cipher",
                                                                     "aead", "bits")})
            row[label] = True
    out = pd.DataFrame(list(seen.values()))
    for label in strings:
        out[label] = out[label].fillna(False).astype(bool) if label in out else False
    return out


# --------------------------------------------------------------------------------------------------------
# Reload that reports even when PostgreSQL rejects the whole file
# --------------------------------------------------------------------------------------------------------

_PID = re.compile(r"\[(\d+)\]")


@dataclass
class ReloadReport:
    """A reload as the guide checks it: both error views, and what the postmaster logged after SIGHUP."""

    file_errors: pd.DataFrame
    hba_errors: pd.DataFrame
    log: list[str]
    conf_load_time_moved: bool
    seconds: float
    data_dir: str = ""

    @property
    def ok(self) -> bool:
        return (self.file_errors.empty and self.hba_errors.empty
                and not any(m in line for line in self.log for m in ("was not reloaded", "contains errors")))

    def _plain(self, text: str) -> str:
        return text.replace(self.data_dir, "$PGDATA") if self.data_dir else text

    def setting_errors(self) -> pd.DataFrame:
        """``pg_file_settings`` rows with an error, the data directory written as ``$PGDATA``."""
        frame = self.file_errors.copy()
        if "sourcefile" in frame:
            frame["sourcefile"] = frame["sourcefile"].map(lambda v: self._plain(str(v)))
        return frame

    def messages(self) -> pd.DataFrame:
        """The postmaster's lines after the SIGHUP, without timestamp and pid, the data directory written as
        ``$PGDATA`` (so they read the same on every machine and backend)."""
        rows = []
        for line in map(self._plain, self.log):
            match = re.search(r"\b(LOG|FATAL|ERROR|WARNING|DETAIL|HINT|CONTEXT):\s+(.*)", line)
            if match:
                rows.append({"level": match.group(1), "message": match.group(2).strip()})
            elif line.startswith(("\t", " ")) and rows:
                rows[-1]["message"] += " " + line.strip()
        return pd.DataFrame(rows, columns=["level", "message"])


def reload_and_report(lab: LabServer, timeout: float = 5.0) -> ReloadReport:
    """:meth:`LabServer.reload` (which waits for the whole reload, even one that applies nothing), plus
    whether ``pg_conf_load_time()`` moved: it does not when postgresql.conf has an error that makes
    PostgreSQL apply *nothing* (an unknown parameter, a syntax error), which is part of the lesson."""
    before = lab.execute("SELECT pg_conf_load_time() AS t")[0]["t"]
    result = lab.reload(timeout)
    after = lab.execute("SELECT pg_conf_load_time() AS t")[0]["t"]
    data_dir = str(lab.execute("SELECT current_setting('data_directory') AS d")[0]["d"])
    return ReloadReport(result.file_errors, result.hba_errors, result.log.splitlines(), after != before,
                        result.seconds, data_dir)


# --------------------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------------
# Handshake timing
# --------------------------------------------------------------------------------------------------------


def _handshake_ms(host: str, port: int, version: str, timeout: float = 3) -> float | None:
    """Milliseconds from TCP connect to a completed TLS handshake with PostgreSQL (SSLRequest included).

    Only the handshake is timed: the connection is then dropped without close_notify, because waiting for
    the server's answer to it (which PostgreSQL, expecting a startup packet, does not send) would add the
    TCP delayed-ACK time to TLS 1.3, whose session tickets arrive after the handshake (measured: ~45 ms).
    """
    import socket
    import struct

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    pinned = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}[version]
    context.minimum_version = context.maximum_version = pinned
    started = time.perf_counter()
    with socket.create_connection((host, port), timeout=timeout) as raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.sendall(struct.pack("!II", 8, 80877103))
        if raw.recv(1) != b"S":
            return None
        try:
            tls = context.wrap_socket(raw, do_handshake_on_connect=True)
        except (ssl.SSLError, OSError):
            return None
        elapsed = (time.perf_counter() - started) * 1000
        tls.close()
    return elapsed


def handshake_times(lab: LabServer, versions: Sequence[str] = ("TLSv1.2", "TLSv1.3"), repeats: int = 15,
                    ) -> pd.DataFrame:
    """Median / min / max milliseconds of a TLS handshake per version (TCP connect + SSLRequest + handshake,
    no PostgreSQL login), from ``repeats`` handshakes each, interleaved so that a busy moment hits both."""
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= 200:
        raise InvalidValue("repeats", repeats, "an integer from 1 to 200")
    for version in versions:
        if version not in ("TLSv1.2", "TLSv1.3"):
            raise InvalidValue("versions", version, ("TLSv1.2", "TLSv1.3"))
    samples: dict[str, list[float]] = {v: [] for v in versions}
    for _ in range(repeats):
        for version in versions:
            elapsed = _handshake_ms(lab.host, lab.port, version)
            if elapsed is not None:
                samples[version].append(elapsed)
    rows = [{"version": v, "handshakes": len(s), "median_ms": round(statistics.median(s), 2) if s else None,
             "min_ms": round(min(s), 2) if s else None, "max_ms": round(max(s), 2) if s else None}
            for v, s in samples.items()]
    return pd.DataFrame(rows, columns=["version", "handshakes", "median_ms", "min_ms", "max_ms"])


# --------------------------------------------------------------------------------------------------------
# One raw TLS probe with the server's side of the story
# --------------------------------------------------------------------------------------------------------


def probe_with_log(lab: LabServer, version: str, cipher: str | None = None, *, label: str = "",
                   log_wait: float = 0.5) -> dict[str, Any]:
    """:func:`labkit.tlsprobe.probe` against the lab, plus the server's log line for a refused handshake.

    Returns a dict (one table row): what was offered, ``result`` (accepted / refused / client cannot
    offer), the negotiated version and suite, the client's error words and the server's reason, the last
    without timestamp and pid.
    """
    from .tlsprobe import probe_lab

    result = probe_lab(lab, version, cipher, log_wait=log_wait)
    log = result.server_log or ""
    reasons = [re.sub(r"^.*?\b(LOG|FATAL|DETAIL|HINT):\s+", "", ln) for ln in log.splitlines()
               if re.search(r"could not accept SSL connection|\b(DETAIL|HINT):", ln)]
    return {"label": label, "offered_version": version, "offered_cipher": cipher or "(any)",
            "result": result.result.split(":")[0], "negotiated_version": result.negotiated_version,
            "negotiated_cipher": result.cipher, "client_error": result.error or "",
            "server_log": " | ".join(reasons)}
