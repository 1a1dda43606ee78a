"""The error catalogue: every TLS/authentication failure the course shows, as one table of data.

Why a table: a lesson shows a failure, and the reader needs the same three answers every time -- what the
message means, why it happened, what to change. Keeping them in one tuple (not in ``if`` chains spread over
notebooks) lets a notebook print the whole table, lets tests prove each row against a real server, and
makes adding a wording (a new OpenSSL release renames an alert) a one-line change.

How matching works (:func:`classify`): entries are tried in catalogue order and the first one whose
patterns match wins, so a specific entry must come before a generic one that would also match. Each entry
says where its patterns are looked for (``side``):

- ``"client"``: only in the client's message (what libpq/psql printed);
- ``"server log"``: only in the server log (lines of one attempt, or what a reload/restart wrote);
- ``"both"``: in either.

The side matters because the same words mean different things on the two ends: the server logs
"certificate verify failed" when it rejects the *client's* certificate, while the client prints it when it
rejects the *server's*; the server logs "tlsv1 alert unknown ca" when the *client* refused the server's CA.

Wording differences the patterns cover, as measured on this project's labs (see tests/test_catalogue.py):

- OpenSSL 1.1 clients call the revocation/expiry alerts ``sslv3 alert certificate revoked`` (the guide's
  wording); OpenSSL 3 clients (libpq 18 in psycopg's wheel) say ``ssl/tls alert certificate revoked``.
- PostgreSQL 16 logs why and where it rejected a client certificate (``DETAIL: Client certificate
  verification failed at depth 1: unable to get certificate CRL.``); PostgreSQL 15 logs only
  ``could not accept SSL connection: certificate verify failed``, so on 15 a missing root CRL is
  indistinguishable from an unknown CA (both reach the client as ``tlsv1 alert unknown ca``).
- Under TLS 1.3 the server checks the client certificate after the client has finished its handshake,
  so a rejection surfaces on the client's first read. libpq 18 then reports the alert itself
  (``tlsv1 alert unknown ca``, ``ssl/tls alert certificate revoked``, ``tlsv13 alert certificate required``);
  a peer that just drops the connection shows as ``server closed the connection unexpectedly`` or, with
  OpenSSL 3, ``SSL error: unexpected eof while reading`` (older clients: ``SSL SYSCALL error: EOF detected``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CATALOGUE", "SIDES", "CatalogueEntry", "as_dataframe", "by_key", "classify"]

SIDES: tuple[str, ...] = ("client", "server log", "both")


@dataclass(frozen=True)
class CatalogueEntry:
    """One recognisable failure: how to spot it, why it happens, what to do.

    ``patterns`` are compiled, case-insensitive regular expressions; ``side`` says which text they are
    matched against. ``guide_ref`` names the section of the course guide that shows this error (empty
    when the guide does not: the entry is ours).
    """

    key: str
    error_class: str
    patterns: tuple[re.Pattern[str], ...]
    side: str
    cause: str
    fix: str
    guide_ref: str = ""

    def matches(self, client_text: str, server_log: str = "") -> bool:
        """Whether any pattern matches the text(s) this entry's side looks at."""
        texts = {"client": (client_text,), "server log": (server_log,), "both": (client_text, server_log)}[self.side]
        return any(p.search(t) for p in self.patterns for t in texts if t)


def _entry(key: str, error_class: str, side: str, patterns: tuple[str, ...], cause: str, fix: str,
           guide_ref: str = "") -> CatalogueEntry:
    if side not in SIDES:  # a typo in the table must fail at import, not classify nothing silently
        raise ValueError(f"catalogue entry {key!r}: side {side!r} is not one of {SIDES}")
    return CatalogueEntry(key, error_class, tuple(re.compile(p, re.IGNORECASE) for p in patterns), side,
                          cause, fix, guide_ref)


_GUIDE_ERRORS = "Conceptos información extra › Mensajes de Error"
_GUIDE_F2 = "Fase #2 Implementación"

# Order matters: first match wins. Specific entries (a combination that names the real cause, an
# authentication failure that a fallback connection attempt may follow with a pg_hba complaint) come before
# generic ones (unknown CA, no pg_hba entry, connection closed).
CATALOGUE: tuple[CatalogueEntry, ...] = (
    # ---- the client certificate, as judged by the server -------------------------------------------------
    _entry(
        "crl_missing", "client certificate rejected", "server log",
        (r"unable to get certificate CRL", r"certificate verify failed at depth 1"),
        "CRL checking is on (ssl_crl_file/ssl_crl_dir) and the server has no CRL for one CA of the client's "
        "chain; 'depth 1' is the intermediate, whose CRL is published by the root.",
        "Give the server a CRL for every CA in the chain: ssl_crl_file = the combined CRL "
        "(intermediate + root), or put both in ssl_crl_dir; reload.",
        f"{_GUIDE_ERRORS} #2 (certificate verify failed at depth 1); {_GUIDE_F2} › Quinta capa (ssl_crl_file)",
    ),
    _entry(
        "cert_revoked", "client certificate rejected", "both",
        (r"(sslv3|ssl/tls) alert certificate revoked", r"verification failed at depth \d+: certificate revoked"),
        "The client's certificate is listed in the CRL the server loaded.",
        "Issue the client a new certificate (and key); the revoked one will never work again.",
        f"{_GUIDE_F2} › Tercera capa nivel Usuario (certificado revocado)",
    ),
    _entry(
        "cert_expired", "client certificate rejected", "both",
        (r"(sslv3|ssl/tls) alert certificate expired", r"certificate has expired"),
        "The client's certificate is past its notAfter date (or the server's clock is wrong).",
        "Issue a new client certificate, and check both machines' clocks.",
    ),
    _entry(
        "unknown_ca", "client certificate rejected", "client",
        (r"tlsv1 alert unknown ca",),
        "The server cannot build a chain from the client's certificate to a CA in its ssl_ca_file: "
        "typically ssl_ca_file holds only the root while the client certificate was issued by the intermediate "
        "(or the certificate comes from another CA altogether).",
        "Put root + intermediate in ssl_ca_file (the combined file), or have the client send its chain "
        "(sslcert = client cert + intermediate); reload. A certificate from a foreign CA must be replaced.",
        f"{_GUIDE_ERRORS} #1; {_GUIDE_F2} › Sexta capa (ssl_ca_file)",
    ),
    _entry(
        "cert_required_tls13", "client certificate rejected", "client",
        (r"tlsv13 alert certificate required",),
        "The server demands a client certificate and the client sent none; under TLS 1.3 this alert arrives "
        "after the client's side of the handshake, on its first read.",
        "Pass sslcert and sslkey (or put postgresql.crt/postgresql.key in ~/.postgresql).",
    ),
    # ---- the server certificate, as judged by the client -------------------------------------------------
    _entry(
        "root_cert_missing", "server certificate not verified", "client",
        (r'root certificate file "[^"]*" does not exist',),
        "sslmode verify-ca/verify-full needs a CA file to check the server, and libpq found none "
        "(no sslrootcert and no ~/.postgresql/root.crt).",
        "Pass sslrootcert=<the lab root.crt> (or copy it to ~/.postgresql/root.crt).",
        f"{_GUIDE_F2} › Preparar el entorno del cliente",
    ),
    _entry(
        "hostname_mismatch", "server certificate not verified", "client",
        (r'server certificate for "[^"]*"( \(and \d+ other names?\))? does not match host name "[^"]*"',
         r'server common name "[^"]*" does not match host name "[^"]*"',
         r"hostname does not match certificate"),
        "verify-full checks that the host you typed is among the certificate's SAN (or CN) names, and it is not.",
        "Connect with a name the certificate lists, or issue the server a certificate whose SAN includes the "
        "name or IP the clients use.",
        f"{_GUIDE_ERRORS} #4; {_GUIDE_F2} › Segunda capa nivel Usuario",
    ),
    _entry(
        "server_cert_untrusted", "server certificate not verified", "client",
        (r"SSL error: certificate verify failed",),
        "The client does not trust the CA that signed the server's certificate (sslrootcert is another CA, "
        "or the server does not send its intermediate).",
        "Point sslrootcert at the lab root (or combined) CA file; make the server send its chain "
        "(ssl_cert_file = server cert + intermediate).",
        f"{_GUIDE_ERRORS} #3",
    ),
    # ---- protocol versions -------------------------------------------------------------------------------
    _entry(
        "protocol_range_invalid", "TLS protocol version", "both",
        (r"invalid SSL protocol version range", r"could not set SSL protocol version range",
         r'"ssl_min_protocol_version" cannot be higher than "ssl_max_protocol_version"'),
        "The minimum TLS version is above the maximum, so no version is allowed; the server keeps its previous "
        "SSL configuration (the client refuses to connect at all).",
        "Make ssl_min_protocol_version <= ssl_max_protocol_version (e.g. TLSv1.2 and TLSv1.3); reload.",
        f"{_GUIDE_F2} › Segunda capa (ssl_min/max_protocol_version)",
    ),
    _entry(
        "protocol_setting_invalid", "TLS protocol version", "both",
        (r'invalid value for parameter "ssl_(min|max)_protocol_version"',
         r'invalid "ssl_(min|max)_protocol_version" value'),
        "A protocol-version setting has a value that does not exist (e.g. 'TLSv1.4', 'TLS1.2').",
        "Use one of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 exactly as spelled; reload.",
        f"{_GUIDE_F2} › Segunda capa (ssl_min/max_protocol_version)",
    ),
    _entry(
        "legacy_tls_seclevel", "TLS protocol version", "both",
        (r"no suitable signature algorithm",),
        "The server allows TLS 1.0/1.1 by ssl_min_protocol_version, but its OpenSSL 3 security level 1 forbids "
        "the SHA-1 signatures those versions need, so the handshake still fails.",
        "Keep TLS 1.0/1.1 off (ssl_min_protocol_version = TLSv1.2). Only for a measured demo: "
        "ssl_ciphers = '...:@SECLEVEL=0'.",
    ),
    _entry(
        "protocol_mismatch", "TLS protocol version", "both",
        (r"unsupported protocol", r"tlsv1 alert protocol version", r"no protocols available",
         r"wrong version number", r"version too low",
         r"could not accept SSL connection: (unsupported protocol|no protocols available|version too low)"),
        "Client and server have no TLS version in common (e.g. server minimum TLSv1.3, client maximum TLSv1.2).",
        "Align the ranges: server ssl_min/max_protocol_version and client "
        "ssl_min_protocol_version/ssl_max_protocol_version must overlap (TLSv1.2-TLSv1.3 on both is the goal).",
        f"{_GUIDE_F2} › Segunda capa (ssl_min/max_protocol_version)",
    ),
    # ---- key and certificate files -----------------------------------------------------------------------
    _entry(
        "key_permissions", "key file", "both",
        (r'private key file "[^"]*" has group or world access',),
        "A private key readable by group/others is refused: by the server for ssl_key_file (at start, or at "
        "reload where the old SSL setup is kept), by libpq for sslkey.",
        "chmod 600 the key and make its owner the account that reads it (the server's account, or you); "
        "0640 is accepted only when root owns it.",
        f"{_GUIDE_F2} › Preparar el entorno del cliente (chmod 600 postgresql.key)",
    ),
    _entry(
        "key_bad_decrypt", "key file", "both",
        (r'could not load private key file "[^"]*": (bad decrypt|processing error)',
         r'could not load private key file "[^"]*": (bad password read|problems getting password)'),
        "The private key is encrypted and the passphrase given (ssl_passphrase_command on the server, "
        "sslpassword on the client) is wrong or missing.",
        "Give the right passphrase (server: ssl_passphrase_command, plus "
        "ssl_passphrase_command_supports_reload = on to reload; client: sslpassword), or use an unencrypted "
        "0600 key.",
    ),
    _entry(
        "key_needs_passphrase_at_reload", "key file", "server log",
        (r"cannot be reloaded because it requires a passphrase",),
        "The server key is encrypted and there is no ssl_passphrase_command usable at reload, so the reload "
        "keeps the old SSL configuration.",
        "Set ssl_passphrase_command and ssl_passphrase_command_supports_reload = on, or restart the server.",
    ),
    _entry(
        "key_mismatch", "key file", "both",
        (r'could not load private key file "[^"]*": key values mismatch',),
        "The key does not belong to the certificate it is paired with.",
        "Pair each certificate with its own key (ssl_cert_file/ssl_key_file, or sslcert/sslkey).",
    ),
    _entry(
        "client_key_missing", "key file", "client",
        (r'certificate present, but not private key file "[^"]*"',),
        "libpq found a client certificate but no key next to it (sslkey, or ~/.postgresql/postgresql.key).",
        "Pass sslkey=<the key of that certificate> (mode 0600).",
    ),
    _entry(
        "client_file_unreadable", "key file", "client",
        (r'could not (read|open) certificate file "[^"]*"',
         r'could not load private key file "[^"]*": (unsupported|no start line|bad base64 decode)'),
        "sslcert/sslkey (or ~/.postgresql/postgresql.crt/.key) is not a PEM certificate/key libpq can parse.",
        "Point sslcert/sslkey at the PEM files the lab issued (certs/client.crt, private/client.key).",
    ),
    _entry(
        "server_cert_file_unreadable", "server configuration", "server log",
        (r'could not load server certificate file "[^"]*"',
         r'could not (load|access) private key file "[^"]*": No such file'),
        "ssl_cert_file / ssl_key_file names a file the server cannot read (missing, wrong path, no permission).",
        "Deliver the file where the setting points (relative paths are inside the data directory); reload.",
        f"{_GUIDE_F2} › Primera capa (ssl_cert_file, ssl_key_file)",
    ),
    # ---- pg_hba.conf ---------------------------------------------------------------------------------------
    _entry(
        "clientcert_invalid", "pg_hba.conf", "server log",
        (r'invalid value for clientcert: "[^"]*"', r'clientcert (only accepts|can only be set to) "verify-full"'),
        "Since PostgreSQL 14 clientcert takes verify-ca or verify-full (the old 1/0 are gone), and with "
        "'cert' only verify-full; the whole pg_hba.conf is then not reloaded (the old rules stay).",
        "Write clientcert=verify-full (or verify-ca with a password method); check the server log after the "
        "reload: on 15/16 pg_hba_file_rules shows no error text for clientcert=1.",
        f"{_GUIDE_F2} › Tercera capa (pg_hba.conf, clientcert=1)",
    ),
    _entry(
        "hostssl_without_ssl", "pg_hba.conf", "server log",
        (r"hostssl record cannot match because SSL is disabled",),
        "A hostssl rule is loaded while ssl = off, so no connection can ever use it.",
        "Set ssl = on (with a certificate and key), or use host/hostnossl rules.",
    ),
    _entry(
        "cert_auth_failed", "authentication", "both",
        (r'certificate authentication failed for user "[^"]*"',
         r"provided user name \([^)]*\) and authenticated user name \([^)]*\) do not match"),
        "Method 'cert' (or clientcert=verify-full) compares the certificate's CN with the user name asked for, "
        "and they differ.",
        "Connect as the user named in the certificate's CN, issue a certificate with CN = the role, or map "
        "names with pg_ident.conf (map=...).",
        f"{_GUIDE_F2} › Tercera capa nivel Usuario (usuario \"otros\")",
    ),
    _entry(
        "client_cert_required", "authentication", "both",
        (r"connection requires a valid client certificate",),
        "The matching pg_hba.conf rule ('cert', or clientcert=verify-ca/verify-full) needs a client certificate "
        "and the client sent none.",
        "Pass sslcert and sslkey with a certificate issued by a CA in the server's ssl_ca_file.",
        f"{_GUIDE_F2} › Tercera capa (cert, clientcert)",
    ),
    _entry(
        "password_failed", "authentication", "both",
        (r'password authentication failed for user "[^"]*"',),
        "Wrong password for that role (or the role has no password / does not exist: the server does not say "
        "which, on purpose).",
        "Check the password (PGPASSWORD, passfile, or password=...), and that the role exists with LOGIN.",
    ),
    _entry(
        "no_password", "authentication", "client",
        (r"fe_sendauth: no password supplied",),
        "The server asked for a password and the client had none to send.",
        "Supply one (passfile, PGPASSWORD or password=), or use a rule with method 'cert' and a client "
        "certificate.",
    ),
    _entry(
        "no_hba_no_encryption", "pg_hba.conf", "both",
        (r'no pg_hba\.conf entry for host "[^"]*", user "[^"]*", database "[^"]*", (no encryption|SSL off)',),
        "The connection came without TLS and no pg_hba.conf rule accepts unencrypted connections for it "
        "(hostssl rules match only TLS connections).",
        "Connect with sslmode=require or stronger; add a host/hostnossl rule only if plain text is really allowed.",
        f"{_GUIDE_F2} › Tercera capa (hostssl)",
    ),
    _entry(
        "no_hba_ssl", "pg_hba.conf", "both",
        (r'no pg_hba\.conf entry for host "[^"]*", user "[^"]*", database "[^"]*", (SSL encryption|SSL on)',),
        "The connection used TLS and no pg_hba.conf rule accepts TLS connections for it (only hostnossl rules "
        "match, or none matches this user/database/address).",
        "Add a hostssl (or host) rule for this user, database and address; reload.",
    ),
    _entry(
        "server_no_ssl", "TLS not offered", "client",
        (r"server does not support SSL, but SSL was required",),
        "sslmode require/verify-* insists on TLS and the server answered the SSL request with 'N' (ssl = off).",
        "Turn ssl on at the server (with a certificate and key) and reload; do not weaken the client's sslmode.",
        f"{_GUIDE_F2} › Primera capa (ssl = on)",
    ),
    # ---- generic: the connection ended without a reason ---------------------------------------------------
    _entry(
        "connection_closed", "connection closed", "client",
        (r"server closed the connection unexpectedly", r"SSL SYSCALL error: EOF detected",
         r"SSL connection has been closed unexpectedly", r"unexpected eof while reading"),
        "The server end closed the connection without an error message; under TLS 1.3 this is how a rejected "
        "client certificate can look to older clients (the server decided after the client's handshake).",
        "Read the server log for the same moment: it names the real reason (e.g. certificate verify failed).",
    ),
    _entry(
        "server_unreachable", "connection", "client",
        (r"Connection refused", r"could not connect to server", r"timeout expired",
         r"could not translate host name"),
        "Nothing accepted the TCP connection at that host and port (server down, wrong port, or firewall).",
        "Check that the lab runs (lab.status()) and use lab.host/lab.port.",
    ),
)

_BY_KEY = {entry.key: entry for entry in CATALOGUE}
if len(_BY_KEY) != len(CATALOGUE):  # pragma: no cover - guards the table itself
    raise ValueError("catalogue keys must be unique")


def by_key(key: str) -> CatalogueEntry:
    """The entry with this key; a KeyError names the keys that exist."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"no catalogue entry {key!r}; known keys: {', '.join(_BY_KEY)}") from None


def classify(client_text: str, server_log: str = "") -> CatalogueEntry | None:
    """The first catalogue entry (in catalogue order) whose patterns match; ``None`` when none does.

    ``client_text`` is what the client printed (empty when judging only a reload/restart log);
    ``server_log`` the server log lines of the same attempt or reload.
    """
    client_text = client_text or ""
    server_log = server_log or ""
    for entry in CATALOGUE:
        if entry.matches(client_text, server_log):
            return entry
    return None


def as_dataframe() -> pd.DataFrame:
    """The catalogue as a table for notebooks: one row per entry, patterns shown as their source text."""
    import pandas as pd

    return pd.DataFrame([{
        "key": e.key,
        "error_class": e.error_class,
        "side": e.side,
        "patterns": " | ".join(p.pattern for p in e.patterns),
        "cause": e.cause,
        "fix": e.fix,
        "guide_ref": e.guide_ref,
    } for e in CATALOGUE], columns=["key", "error_class", "side", "patterns", "cause", "fix", "guide_ref"])
