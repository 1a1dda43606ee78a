"""The error catalogue: every TLS/authentication failure the course shows, as one table of data.

Why a table: a lesson shows a failure, and the reader needs the same three answers every time -- what the
message means, why it happened, what to change. Keeping them in one tuple (not in ``if`` chains spread over
notebooks) lets a notebook print the whole table, lets tests prove each row against a real server, and
makes adding a wording (a new OpenSSL release renames an alert) a one-line change.

How matching works (:func:`classify`): entries are tried in catalogue order and the first one whose
patterns match wins, so a specific entry must come before a generic one that would also match. Each entry
has *client* patterns (matched only against what the client printed: libpq, psql, node-postgres) and
*server* patterns (matched only against the server log of the same attempt, or what a reload wrote);
``side`` says which of the two it has.

The two ends must not be confused, because the same words mean the other party on the other end: the
server logs "certificate verify failed" when it rejects the *client's* certificate, while the client
prints it when it rejects the *server's*; the server logs "tlsv1 alert unknown ca", "sslv3 alert
certificate revoked" or "... expired" when the *client* refused the *server's* certificate and told it
so with an alert -- a revoked or expired *server* certificate, not a client one. :func:`explain` takes
any client's message (and server-log lines pasted with it) and gives cause and fix.

Two languages (:mod:`labkit.catalogue_es`): a server that logs in Spanish (``server_lang="es"``) writes
PostgreSQL's Spanish wording, which the server patterns match too (first-match order is unchanged: the
Spanish patterns join their own entry); causes and fixes read in the edition's language
(:func:`labkit.i18n.current_language`). Keys never change language.

Wording differences the patterns cover, as measured on this project's labs (see tests/test_catalogue.py):

- The revocation/expiry alerts read ``sslv3 alert certificate revoked`` from OpenSSL 1.1 and 3.0.19 (the
  guide's psql, Debian's psql 15, node 20) and ``ssl/tls alert certificate revoked`` from OpenSSL 3.5.9 in
  psycopg's libpq 18 wheel; the server log (OpenSSL 1.1.1 or 3.0) writes ``sslv3 alert``.
- node-postgres words the server-certificate failures after OpenSSL's verify codes: ``unable to get local
  issuer certificate``, ``self-signed certificate in certificate chain``, ``unable to verify the first
  certificate``, ``certificate has expired``, ``certificate revoked``, and ``Hostname/IP does not match
  certificate's altnames`` for the name check; libpq says ``certificate verify failed`` for all but the last.
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

from . import catalogue_es
from .catalogue_entry import SIDES, CatalogueEntry, both as _both, entry as _entry
from .i18n import current_language

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CATALOGUE", "SIDES", "CatalogueEntry", "Explanation", "as_dataframe", "by_key", "classify",
           "explain"]

_GUIDE_ERRORS = "Conceptos información extra › Mensajes de Error"
_GUIDE_F2 = "Fase #2 Implementación"



# Order matters: first match wins. Specific entries (a combination that names the real cause, an
# authentication failure that a fallback connection attempt may follow with a pg_hba complaint) come before
# generic ones (unknown CA, no pg_hba entry, connection closed). An entry that reads the *server's* alert
# about the server's own certificate comes before the entries for the client's certificate.
_BOTH_REVOKED = r"(sslv3|ssl/tls) alert certificate revoked"
_BOTH_EXPIRED = r"(sslv3|ssl/tls) alert certificate expired"
_KEY_BAD_DECRYPT = (r'could not load private key file "[^"]*": (bad decrypt|processing error|wrong tag)',
                    r'could not load private key file "[^"]*": (bad password read|problems getting password)',
                    r"routines::bad decrypt$")  # node: error:1C800064:Provider routines::bad decrypt
_KEY_UNSUPPORTED = r'could not load private key file "([^"]*)": unsupported'


def _named_key_is_pem(client_text: str) -> bool:
    """Whether the key file the client names is PEM, read from the file itself. libpq says 'unsupported' for
    an encrypted DER key, and also, about once in 256 tries, for an encrypted PEM key with a wrong passphrase
    (the wrong key decrypts to valid padding, then the contents do not parse; seen in a suite run). A file
    this machine cannot read is taken as not PEM: the client's words decide, as they did before."""
    match = re.search(_KEY_UNSUPPORTED, client_text, re.IGNORECASE)
    try:
        with open(match.group(1), "rb") as handle:  # type: ignore[union-attr]
            return b"-----BEGIN" in handle.read(256)
    except (AttributeError, OSError):
        return False


CATALOGUE: tuple[CatalogueEntry, ...] = (
    # ---- the server certificate, rejected by the client: the server log holds the alert it received ----
    _entry(
        "server_cert_revoked", "server certificate not verified",
        "The client checks the server's certificate against a CRL (sslcrl/sslcrldir, node's crl) that lists "
        "it: the client refused the *server*. The server log's 'alert certificate revoked' is the alert the "
        "client sent, not a verdict on a client certificate.",
        "Give the server a new certificate (ssl_cert_file/ssl_key_file) and reload; the revoked one is done.",
        client=(r"(?<!alert )\bcertificate revoked\b",), server=(_BOTH_REVOKED,),
    ),
    _entry(
        "server_cert_expired", "server certificate not verified",
        "The server's certificate is past its notAfter date (or the client's clock is wrong): the client "
        "refused the *server*; the server log's 'alert certificate expired' is the client's alert.",
        "Renew the server certificate and reload (rotation, lesson 32); check the clocks.",
        client=(r"(?<!alert )\bcertificate has expired\b", r"^certificate expired$"), server=(_BOTH_EXPIRED,),
    ),
    # ---- the client certificate, as judged by the server -------------------------------------------------
    _entry(
        "crl_missing", "client certificate rejected",
        "CRL checking is on (ssl_crl_file/ssl_crl_dir) and the server has no CRL for one CA of the client's "
        "chain; 'depth 1' is the intermediate, whose CRL is published by the root.",
        "Give the server a CRL for every CA in the chain: ssl_crl_file = the combined CRL "
        "(intermediate + root), or put both in ssl_crl_dir; reload.",
        f"{_GUIDE_ERRORS} #2 (certificate verify failed at depth 1); {_GUIDE_F2} › Quinta capa (ssl_crl_file)",
        server=(r"unable to get certificate CRL", r"certificate verify failed at depth 1"),
    ),
    _entry(
        "cert_revoked", "client certificate rejected",
        "The client's certificate is listed in the CRL the server loaded.",
        "Issue the client a new certificate (and key); the revoked one will never work again.",
        f"{_GUIDE_F2} › Tercera capa nivel Usuario (certificado revocado)",
        client=(_BOTH_REVOKED,), server=(r"verification failed at depth \d+: certificate revoked",),
    ),
    _entry(
        "cert_expired", "client certificate rejected",
        "The client's certificate is past its notAfter date (or the server's clock is wrong).",
        "Issue a new client certificate, and check both machines' clocks.",
        client=(_BOTH_EXPIRED,), server=(r"verification failed at depth \d+: certificate has expired",),
    ),
    _entry(
        "unknown_ca", "client certificate rejected",
        "The server cannot build a chain from the client's certificate to a CA in its ssl_ca_file: "
        "typically ssl_ca_file holds only the root while the client certificate was issued by the intermediate "
        "(or the certificate comes from another CA altogether).",
        "Put root + intermediate in ssl_ca_file (the combined file), or have the client send its chain "
        "(sslcert = client cert + intermediate); reload. A certificate from a foreign CA must be replaced.",
        f"{_GUIDE_ERRORS} #1; {_GUIDE_F2} › Sexta capa (ssl_ca_file)",
        client=(r"tlsv1 alert unknown ca",),
        server=(r"verification failed at depth \d+: unable to get local issuer certificate",),  # PostgreSQL 16+
    ),
    _entry(
        "cert_required_tls13", "client certificate rejected",
        "The server demands a client certificate and the client sent none; under TLS 1.3 this alert arrives "
        "after the client's side of the handshake, on its first read.",
        "Pass sslcert and sslkey (or put postgresql.crt/postgresql.key in ~/.postgresql).",
        client=(r"tlsv13 alert certificate required",),
    ),
    _entry(
        "client_cert_not_requested", "client certificate rejected",
        "sslcertmode=require (libpq 16+) insists that a client certificate takes part. 'server did not request "
        "an SSL certificate': the server has no ssl_ca_file, so it never asks for one. 'server accepted "
        "connection without a valid SSL certificate': it asked, the client had none to send (no sslcert), and "
        "the pg_hba rule let it in anyway.",
        "Give the client its certificate (sslcert/sslkey) and the server ssl_ca_file; make the rule demand it "
        "(cert, or clientcert=verify-full). Drop sslcertmode=require only if certificates are not the plan.",
        client=(r"server accepted connection without a valid SSL certificate",
                r"server did not request an SSL certificate"),
    ),
    # ---- the server certificate, as judged by the client -------------------------------------------------
    _entry(
        "sslrootcert_system_weak", "server certificate not verified",
        "sslrootcert=system trusts every public CA of the operating system, so libpq (16+) allows it only with "
        "verify-full: with verify-ca any certificate a public CA issued to anyone would do.",
        "Use sslmode=verify-full with sslrootcert=system (or leave sslmode unset: it then defaults to "
        "verify-full), or point sslrootcert at the lab's own root.",
        client=(r'weak sslmode "[^"]*" may not be used with sslrootcert=system',),
    ),
    _entry(
        "root_cert_missing", "server certificate not verified",
        "sslmode verify-ca/verify-full needs a CA file to check the server, and libpq found none "
        "(no sslrootcert and no ~/.postgresql/root.crt).",
        "Pass sslrootcert=<the lab root.crt> (or copy it to ~/.postgresql/root.crt).",
        f"{_GUIDE_F2} › Preparar el entorno del cliente",
        client=(r'root certificate file "[^"]*" does not exist',),
    ),
    _entry(
        "server_cert_no_name", "server certificate not verified",
        "verify-full found no name at all in the server's certificate: no SAN dNSName/IP entry and no CN, so "
        "there is nothing to compare with the host.",
        "Issue the server a certificate whose SAN lists the names and IPs clients use.",
        client=(r"could not get server's host name from server certificate",),
    ),
    _entry(
        "hostname_mismatch", "server certificate not verified",
        "verify-full checks that the host you typed is among the certificate's SAN (or CN) names, and it is not.",
        "Connect with a name the certificate lists, or issue the server a certificate whose SAN includes the "
        "name or IP the clients use.",
        f"{_GUIDE_ERRORS} #4; {_GUIDE_F2} › Segunda capa nivel Usuario",
        client=(r'server certificate for "[^"]*"( \(and \d+ other names?\))? does not match host name "[^"]*"',
                r'server common name "[^"]*" does not match host name "[^"]*"',
                r"hostname does not match certificate",
                r"Hostname/IP does not match certificate's altnames"),
    ),
    _entry(
        "client_crl_unusable", "server certificate not verified",
        "The client was given a CRL (sslcrl/sslcrldir) and then needs a CRL from every CA of the server's chain; "
        "the one given is from another CA (or lacks one), so the server's certificate cannot be checked. libpq "
        "says only 'certificate verify failed': attempt() tells it from an untrusted server by trying again "
        "without the CRL; node says 'unable to get certificate CRL'.",
        "Give the client the CRL of the server's CAs (the lab's combined.crl), or no CRL.",
        client=(r"unable to get certificate CRL",),
    ),
    _entry(
        "server_chain_incomplete", "server certificate not verified",
        "The server sends only its leaf and the client's CA file holds only the root, so the client cannot "
        "find the intermediate between them (node's wording; libpq says 'certificate verify failed').",
        "Make the server send its chain (ssl_cert_file = server cert + intermediate), or give the client "
        "root + intermediate (combined.crt).",
        client=(r"unable to verify the first certificate",),
    ),
    _entry(
        "server_cert_untrusted", "server certificate not verified",
        "The client does not trust the CA that signed the server's certificate (sslrootcert is another CA, "
        "or the server does not send its intermediate). node names the case: 'unable to get local issuer "
        "certificate' (no CA of the chain is trusted), 'self-signed certificate in certificate chain' (the "
        "server sent its root too, and the client trusts another).",
        "Point sslrootcert at the lab root (or combined) CA file; make the server send its chain "
        "(ssl_cert_file = server cert + intermediate). If the client was given sslcrl/sslcrldir, try once "
        "without it: libpq words a CRL from another CA the same way (attempt() makes that second try itself).",
        f"{_GUIDE_ERRORS} #3",
        client=(r"SSL error: certificate verify failed", r"self[- ]signed certificate in certificate chain",
                r"unable to get local issuer certificate", r"^self[- ]signed certificate$"),
    ),
    # ---- protocol versions -------------------------------------------------------------------------------
    _entry(
        "protocol_range_invalid", "TLS protocol version",
        "The minimum TLS version is above the maximum, so no version is allowed; the server keeps its previous "
        "SSL configuration (the client refuses to connect at all).",
        "Make ssl_min_protocol_version <= ssl_max_protocol_version (e.g. TLSv1.2 and TLSv1.3); reload.",
        f"{_GUIDE_F2} › Segunda capa (ssl_min/max_protocol_version)",
        **_both(r"invalid SSL protocol version range", r"could not set SSL protocol version range",
                r'"ssl_min_protocol_version" cannot be higher than "ssl_max_protocol_version"'),
    ),
    _entry(
        "protocol_setting_invalid", "TLS protocol version",
        "A protocol-version setting has a value that does not exist (e.g. 'TLSv1.4', 'TLS1.2').",
        "Use one of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 exactly as spelled; reload.",
        f"{_GUIDE_F2} › Segunda capa (ssl_min/max_protocol_version)",
        **_both(r'invalid value for parameter "ssl_(min|max)_protocol_version"',
                r'invalid "ssl_(min|max)_protocol_version" value'),
    ),
    _entry(
        "legacy_tls_seclevel", "TLS protocol version",
        "The server allows TLS 1.0/1.1 by ssl_min_protocol_version, but its OpenSSL 3 security level 1 forbids "
        "the SHA-1 signatures those versions need, so the handshake still fails.",
        "Keep TLS 1.0/1.1 off (ssl_min_protocol_version = TLSv1.2). Only for a measured demo: "
        "ssl_ciphers = '...:@SECLEVEL=0'.",
        **_both(r"no suitable signature algorithm"),
    ),
    _entry(
        "protocol_mismatch", "TLS protocol version",
        "Client and server have no TLS version in common (e.g. server minimum TLSv1.3, client maximum TLSv1.2).",
        "Align the ranges: server ssl_min/max_protocol_version and client "
        "ssl_min_protocol_version/ssl_max_protocol_version must overlap (TLSv1.2-TLSv1.3 on both is the goal).",
        f"{_GUIDE_F2} › Segunda capa (ssl_min/max_protocol_version)",
        **_both(r"unsupported protocol", r"tlsv1 alert protocol version", r"no protocols available",
                r"wrong version number", r"version too low",
                r"could not accept SSL connection: (unsupported protocol|no protocols available|version too low)"),
    ),
    # ---- direct TLS (PostgreSQL 17+) and the settings of TLS 1.3 -----------------------------------------
    _entry("direct_tls_weak_sslmode", "direct TLS",
           "sslnegotiation=direct starts TLS without asking, so libpq (17+) refuses it with a mode that could fall "
           "back to plain text (disable, allow, prefer); nothing is sent to the server.",
           "Use sslmode=require, verify-ca or verify-full with sslnegotiation=direct (verify-full is the goal).",
           client=(r'weak sslmode "\w+" may not be used with sslnegotiation=direct',)),
    _entry("direct_tls_unsupported", "direct TLS",
           "The client started TLS directly (sslnegotiation=direct) and the server is older than PostgreSQL 17: "
           "it read the ClientHello as a startup packet and closed; the client sees only an EOF.",
           "Upgrade the server to 17+, or connect with sslnegotiation=postgres (the default: SSLRequest first).",
           server=(r"invalid length of startup packet",)),
    _entry("direct_tls_alpn", "direct TLS",
           "A direct TLS client (PostgreSQL 17+) offered no ALPN or not 'postgresql'; the server refuses it so that "
           "a TLS connection meant for another protocol (HTTPS...) cannot reach it.",
           "Use a client that sends ALPN postgresql (libpq 17+ does); a TLS proxy in front must pass ALPN through.",
           **_both(r"direct SSL connection request without ALPN", r"alert no application protocol",
                   r"could not accept SSL connection: no application protocol")),
    _entry("setting_unknown", "server configuration",
           "postgresql.conf names a parameter this server does not have (e.g. ssl_tls13_ciphers and ssl_groups "
           "before 18); the server applies none of the file's changes.",
           "Remove the line, or use the setting of this release (ssl_ecdh_curve before 18); check pg_file_settings.",
           **_both(r'unrecognized configuration parameter "\w+"')),
    _entry("tls13_setting_invalid", "server configuration",
           "ssl_tls13_ciphers, ssl_groups or ssl_ecdh_curve names nothing the server's OpenSSL can use (a typo, a "
           "list before 18, X25519 in ssl_ecdh_curve); the server keeps its previous SSL configuration.",
           "Use OpenSSL names the server's build knows: TLS_AES_256_GCM_SHA384..., X25519:prime256v1; reload.",
           server=(r"could not set the TLSv1\.3 cipher suites", r"could not set group names specified in ssl_groups",
                   r"ECDH: (unrecognized curve name|could not create key)")),
    _entry("no_shared_suite_or_group", "TLS 1.3 suites and groups",
           "Client and server share no cipher suite (e.g. the server allows only a CCM suite, which libpq does not "
           "offer) or no key-exchange group (server ssl_groups and the client's groups do not meet).",
           "Keep a suite and a group every client offers: TLS_AES_256_GCM_SHA384 and X25519:prime256v1.",
           server=(r"could not accept SSL connection: (no shared cipher|no suitable key share|no shared group)",)),
    # ---- key and certificate files -----------------------------------------------------------------------
    _entry(
        "key_permissions", "key file",
        "A private key readable by group/others is refused: by the server for ssl_key_file (at start, or at "
        "reload where the old SSL setup is kept), by libpq for sslkey.",
        "chmod 600 the key and make its owner the account that reads it (the server's account, or you); "
        "0640 is accepted only when root owns it.",
        f"{_GUIDE_F2} › Preparar el entorno del cliente (chmod 600 postgresql.key)",
        **_both(r'private key file "[^"]*" has group or world access'),
    ),
    _entry(
        "key_der_not_decrypted", "key file",
        "The client key is an encrypted DER (binary) file. libpq reads it as PEM (with sslpassword), then as "
        "DER without any passphrase, and reports the PEM reader's word 'unsupported' -- whatever sslpassword "
        "says, the right one included (measured with libpq 15 and 18 on OpenSSL 3). The file is fine; libpq "
        "cannot decrypt DER.",
        "Convert the key to PEM (openssl pkey -in key.der -inform DER -out key.pem, encrypted or not) and keep "
        "it 0600; an encrypted PEM key opens with sslpassword.",
        client=(_KEY_UNSUPPORTED,), confirm=lambda text: not _named_key_is_pem(text),
    ),
    _entry(
        "key_bad_decrypt", "key file",
        "The private key is encrypted and the passphrase given (ssl_passphrase_command on the server, "
        "sslpassword on the client) is wrong or missing.",
        "Give the right passphrase (server: ssl_passphrase_command, plus "
        "ssl_passphrase_command_supports_reload = on to reload; client: sslpassword), or use an unencrypted "
        "0600 key.",
        client=(*_KEY_BAD_DECRYPT, _KEY_UNSUPPORTED),  # a PEM key: key_der_not_decrypted has taken the DER ones
        server=_KEY_BAD_DECRYPT,
    ),
    _entry(
        "key_needs_passphrase_at_reload", "key file",
        "The server key is encrypted and there is no ssl_passphrase_command usable at reload, so the reload "
        "keeps the old SSL configuration.",
        "Set ssl_passphrase_command and ssl_passphrase_command_supports_reload = on, or restart the server.",
        server=(r"cannot be reloaded because it requires a passphrase",),
    ),
    _entry(
        "key_mismatch", "key file",
        "The key does not belong to the certificate it is paired with.",
        "Pair each certificate with its own key (ssl_cert_file/ssl_key_file, or sslcert/sslkey).",
        **_both(r'could not load private key file "[^"]*": key values mismatch'),
    ),
    _entry(
        "client_key_missing", "key file",
        "libpq found a client certificate but no key next to it (sslkey, or ~/.postgresql/postgresql.key).",
        "Pass sslkey=<the key of that certificate> (mode 0600).",
        client=(r'certificate present, but not private key file "[^"]*"',),
    ),
    _entry(
        "client_file_unreadable", "key file",
        "sslcert/sslkey (or ~/.postgresql/postgresql.crt/.key) is not a PEM certificate/key libpq can parse.",
        "Point sslcert/sslkey at the PEM files the lab issued (certs/client.crt, private/client.key).",
        client=(r'could not (read|open) certificate file "[^"]*"',
                r'could not load private key file "[^"]*": (no start line|bad base64 decode)'),
    ),
    _entry(
        "server_cert_file_unreadable", "server configuration",
        "ssl_cert_file / ssl_key_file names a file the server cannot read (missing, wrong path, no permission).",
        "Deliver the file where the setting points (relative paths are inside the data directory); reload.",
        f"{_GUIDE_F2} › Primera capa (ssl_cert_file, ssl_key_file)",
        server=(r'could not load server certificate file "[^"]*"',
                r'could not (load|access) private key file "[^"]*": No such file'),
    ),
    # ---- pg_hba.conf ---------------------------------------------------------------------------------------
    _entry(
        "clientcert_invalid", "pg_hba.conf",
        "Since PostgreSQL 14 clientcert takes verify-ca or verify-full (the old 1/0 are gone), and with "
        "'cert' only verify-full; the whole pg_hba.conf is then not reloaded (the old rules stay).",
        "Write clientcert=verify-full (or verify-ca with a password method); check the server log after the "
        "reload: on 15/16 pg_hba_file_rules shows no error text for clientcert=1.",
        f"{_GUIDE_F2} › Tercera capa (pg_hba.conf, clientcert=1)",
        server=(r'invalid value for clientcert: "[^"]*"',
                r'clientcert (only accepts|can only be set to) "verify-full"'),
    ),
    _entry(
        "hostssl_without_ssl", "pg_hba.conf",
        "A hostssl rule is loaded while ssl = off, so no connection can ever use it.",
        "Set ssl = on (with a certificate and key), or use host/hostnossl rules.",
        server=(r"hostssl record cannot match because SSL is disabled",),
    ),
    # ---- channel binding (SCRAM bound to the TLS certificate) -------------------------------------------
    _entry(
        "channel_binding_invalid", "channel binding",
        "channel_binding takes disable, prefer or require; libpq refuses anything else before connecting.",
        "Write channel_binding=require (the value that defends against a relay in the middle).",
        client=(r'invalid channel_binding value: "[^"]*"',),
    ),
    _entry(
        "channel_binding_not_offered", "channel binding",
        "channel_binding=require needs SCRAM-SHA-256-PLUS, and the server asked for something else: a "
        "password/md5 rule, or SCRAM without TLS (no certificate to bind to).",
        "Use a scram-sha-256 rule on a hostssl line and connect with TLS (sslmode=require or stronger).",
        client=(r"channel binding required but not supported by server's authentication request",
                r"channel binding required, but SSL not in use",
                (r"channel binding is required, but server did not offer an authentication method that "
                 r"supports channel binding")),
    ),
    _entry(
        "channel_binding_not_used", "channel binding",
        "channel_binding=require, but the server let the client in without SCRAM at all (trust, or cert "
        "authentication): nothing was bound, so libpq refuses the session it was given.",
        "Authenticate with scram-sha-256 on a hostssl line, or drop channel_binding=require where cert "
        "authentication is the design (the certificate already proves the client).",
        client=(r"channel binding required, but server authenticated client without channel binding",),
    ),
    _entry(
        "channel_binding_mismatch", "channel binding",
        "The client's SCRAM proof is bound to a different TLS certificate than the server's own: something "
        "between them terminated TLS with another certificate (a relay or proxy in the middle).",
        "Connect straight to the server (or to a proxy that passes TLS through); with verify-full the relay's "
        "certificate would have been refused before authentication.",
        **_both(r"SCRAM channel binding check failed"),
    ),
    # ---- authentication ------------------------------------------------------------------------------------
    _entry(
        "usermap_no_match", "authentication",
        "The pg_hba rule names a user map (map=...) and pg_ident.conf has no line of that map pairing the "
        "certificate's name (CN, or the DN with clientname=DN) with the role asked for -- or no such map at "
        "all. The client reads only 'certificate authentication failed'.",
        "Add the pair to pg_ident.conf (a /regex with \\1 for a family of names) and reload; check "
        "pg_ident_file_mappings for the map's lines and that the system name is spelled as the log shows.",
        server=(r'no match in usermap "[^"]*" for user "[^"]*" authenticated as',),
    ),
    _entry(
        "cert_auth_failed", "authentication",
        "Method 'cert' (or clientcert=verify-full) compares the certificate's CN with the user name asked for, "
        "and they differ.",
        "Connect as the user named in the certificate's CN, issue a certificate with CN = the role, or map "
        "names with pg_ident.conf (map=...).",
        f"{_GUIDE_F2} › Tercera capa nivel Usuario (usuario \"otros\")",
        **_both(r'certificate authentication failed for user "[^"]*"',
                r"provided user name \([^)]*\) and authenticated user name \([^)]*\) do not match"),
    ),
    _entry(
        "require_auth_failed", "authentication",
        "require_auth (libpq 16+) lists the methods the client lets the server use; the server asked for "
        "another one ('server requested ...'), or let the client in without asking at all ('did not complete "
        "authentication': trust, or cert, which require_auth does not count as a method).",
        "Make the pg_hba rule use a method the list allows (scram-sha-256 on hostssl), or widen the list "
        "(e.g. scram-sha-256,none where cert logins are expected).",
        client=(r'authentication method requirement "[^"]*" failed',),
    ),
    _entry(
        "require_auth_invalid", "authentication",
        "require_auth takes password, md5, gss, sspi, scram-sha-256 or none, each optionally negated with !; "
        "libpq refuses anything else (e.g. 'cert') before connecting.",
        "Write a method from that list; certificates are demanded with sslcertmode=require, not require_auth.",
        client=(r'invalid require_auth value: "[^"]*"', r'invalid require_auth method: "[^"]*"'),
    ),
    _entry(
        "client_cert_required", "authentication",
        "The matching pg_hba.conf rule ('cert', or clientcert=verify-ca/verify-full) needs a client certificate "
        "and the client sent none.",
        "Pass sslcert and sslkey with a certificate issued by a CA in the server's ssl_ca_file.",
        f"{_GUIDE_F2} › Tercera capa (cert, clientcert)",
        **_both(r"connection requires a valid client certificate"),
    ),
    _entry(
        "password_failed", "authentication",
        "Wrong password for that role (or the role has no password / does not exist: the server does not say "
        "which, on purpose).",
        "Check the password (PGPASSWORD, passfile, or password=), and that the role exists with LOGIN.",
        **_both(r'password authentication failed for user "[^"]*"'),
    ),
    _entry(
        "no_password", "authentication",
        "The server asked for a password and the client had none to send.",
        "Supply one (passfile, PGPASSWORD or password=), or use a rule with method 'cert' and a client "
        "certificate.",
        client=(r"fe_sendauth: no password supplied", r"client password must be a string"),
    ),
    _entry(
        "no_hba_no_encryption", "pg_hba.conf",
        "The connection came without TLS and no pg_hba.conf rule accepts unencrypted connections for it "
        "(hostssl rules match only TLS connections).",
        "Connect with sslmode=require or stronger; add a host/hostnossl rule only if plain text is really allowed.",
        f"{_GUIDE_F2} › Tercera capa (hostssl)",
        **_both(r'no pg_hba\.conf entry for host "[^"]*", user "[^"]*", database "[^"]*", (no encryption|SSL off)'),
    ),
    _entry(
        "no_hba_ssl", "pg_hba.conf",
        "The connection used TLS and no pg_hba.conf rule accepts TLS connections for it (only hostnossl rules "
        "match, or none matches this user/database/address).",
        "Add a hostssl (or host) rule for this user, database and address; reload.",
        **_both(r'no pg_hba\.conf entry for host "[^"]*", user "[^"]*", database "[^"]*", (SSL encryption|SSL on)'),
    ),
    _entry(
        "server_no_ssl", "TLS not offered",
        "sslmode require/verify-* insists on TLS and the server answered the SSL request with 'N' (ssl = off).",
        "Turn ssl on at the server (with a certificate and key) and reload; do not weaken the client's sslmode.",
        f"{_GUIDE_F2} › Primera capa (ssl = on)",
        client=(r"server does not support SSL, but SSL was required", r"The server does not support SSL connections"),
    ),
    # ---- SQL functions of sslinfo ------------------------------------------------------------------------
    _entry(
        "x509_field_invalid", "sslinfo",
        "ssl_client_dn_field()/ssl_issuer_field() take an X.509 attribute name (CN, O, OU, emailAddress...) "
        "and the one given is not one OpenSSL knows.",
        "Use a short or long attribute name as OpenSSL spells it, e.g. ssl_client_dn_field('CN') or "
        "ssl_client_dn_field('commonName').",
        **_both(r"invalid X\.509 field name"),
    ),
    # ---- generic: the connection ended without a reason ---------------------------------------------------
    _entry(
        "connection_closed", "connection closed",
        "The server end closed the connection without an error message; under TLS 1.3 this is how a rejected "
        "client certificate can look to older clients (the server decided after the client's handshake).",
        "Read the server log for the same moment: it names the real reason (e.g. certificate verify failed).",
        client=(r"server closed the connection unexpectedly", r"SSL SYSCALL error: EOF detected",
                r"SSL connection has been closed unexpectedly", r"unexpected eof while reading",
                r"Connection terminated unexpectedly", r"\bECONNRESET\b"),
    ),
    _entry(
        "server_unreachable", "connection",
        "Nothing accepted the TCP connection at that host and port (server down, wrong port, or firewall).",
        "Check that the lab runs (lab.status()) and use lab.host/lab.port.",
        client=(r"Connection refused", r"could not connect to server", r"timeout expired",
                r"could not translate host name", r"\bECONNREFUSED\b"),
    ),
)

_BY_KEY = {entry.key: entry for entry in CATALOGUE}
if len(_BY_KEY) != len(CATALOGUE) or not set(catalogue_es.SERVER_PATTERNS) <= set(_BY_KEY):  # pragma: no cover
    raise ValueError("catalogue keys must be unique, and every Spanish pattern's key an entry's")


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


def _pattern_text(entry: CatalogueEntry) -> str:
    if entry.side == "both" and [p.pattern for p in entry.client] == [p.pattern for p in entry.server]:
        return " | ".join(p.pattern for p in entry.client)
    parts = [f"{side}: " + " | ".join(p.pattern for p in group)
             for side, group in (("client", entry.client), ("server log", entry.server)) if group]
    return "; ".join(parts)


@dataclass(frozen=True)
class Explanation:
    """What :func:`explain` found: the entry (or None), which text named it, and the texts it read."""

    entry: CatalogueEntry | None
    seen_in: str | None
    client_text: str
    server_log: str

    @property
    def key(self) -> str | None:
        return self.entry.key if self.entry else None

    def __str__(self) -> str:
        words = catalogue_es.LABELS if current_language() == "es" else _LABELS
        if self.entry is None:
            return words["unknown"]
        e = self.entry
        seen = words.get(self.seen_in or "", self.seen_in)
        return (f"{e.key} ({e.error_class}; {words['seen']} {seen})\n{words['cause']}: {e.cause}\n"
                f"{words['fix']}: {e.fix}" + (f"\n{words['guide']}: {e.guide_ref}" if e.guide_ref else ""))


_LABELS = {"unknown": "not in the catalogue: read the server log of the same moment (lab.log_since) -- it often "
                      "names the reason the client was not told",
           "seen": "recognised in the", "client": "client text", "server log": "server log text",
           "cause": "cause", "fix": "fix", "guide": "guide"}


_NODE_PREFIX = re.compile(r"^(?:Uncaught )?(?:\w*Error(?: \[\w+\])?: )", re.MULTILINE)


def explain(text: str, server_log: str = "") -> Explanation:
    """The catalogue's diagnosis of any client's message: libpq/psycopg, ``psql`` (``psql: error: ...``),
    node-postgres (``Error: self-signed certificate in certificate chain``), or a pasted mix.

    Lines of ``text`` that carry the server's log prefix (``2026-01-01 10:00:00.000 UTC [123] ...``) are
    read as server log, the rest as the client's words, so a reader can paste both ends at once; a
    ``server_log`` given separately is added. ``str()`` of the result reads as cause and fix.
    """
    if not isinstance(text, str):
        raise TypeError(f"explain() takes the message text, not {type(text).__name__}")
    client_lines, log_lines = [], [server_log] if server_log else []
    for line in text.splitlines():
        (log_lines if _SERVER_LINE.match(line) else client_lines).append(line)
    client_text = _NODE_PREFIX.sub("", "\n".join(client_lines)).strip()
    log = "\n".join(log_lines)
    entry = classify(client_text, log)
    return Explanation(entry, entry.matched_side(client_text, log) if entry else None, client_text, log)


_SERVER_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[\d+\] ")


def as_dataframe() -> pd.DataFrame:
    """The catalogue as a table for notebooks: one row per entry, patterns shown as their source text."""
    import pandas as pd

    return pd.DataFrame([{
        "key": e.key,
        "error_class": e.error_class,
        "side": e.side,
        "patterns": _pattern_text(e),
        "cause": e.cause,
        "fix": e.fix,
        "guide_ref": e.guide_ref,
    } for e in CATALOGUE], columns=["key", "error_class", "side", "patterns", "cause", "fix", "guide_ref"])
