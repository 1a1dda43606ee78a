"""The catalogue reads a server that logs in Spanish, and speaks Spanish to a Spanish reader.

On a local Debian PostgreSQL 15 lab started with ``server_lang="es"`` (``lc_messages = 'es_ES.UTF-8'``), each
server-side catalogue entry is reproduced with the same step the English tests use
(:data:`tests.catalogue_lab.SERVER_SCENARIOS`); the test reads the server-log line, checks it is PostgreSQL's
Spanish wording -- the msgstr of its message catalogue, read with gettext, not a guess -- and not the
English one, and that the catalogue gives the key it gives in English. A control connects once the
configuration is put right. Then the catalogue's texts: every entry has a Spanish cause and fix, and
``set_language("es")`` makes :func:`labkit.catalogue.explain` show them.
"""
from __future__ import annotations

import gettext
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit import catalogue, catalogue_es, i18n
from labkit.client import attempt, session
from labkit.pki import LabPKI
from labkit.server import LabServer
from labkit.server_lang import spanish_catalogue
from tests.catalogue_lab import (SERVER_SCENARIOS_15, Lab, Observed, connected, ensure_roles,  # noqa: F401
                                 pki)
from tests.test_catalogue_ends import SERVER_NAMES, serve_with, tls_relay


def _server_cert_refused(lab: Lab, validity: str) -> Observed:
    """The server presents a revoked or an expired certificate; the client refuses it and tells it so (the
    same set-up as tests/test_catalogue_ends.py's)."""
    kind = "revoked" if validity == "revoked" else "expired"
    crt, key = lab.pki.issue_server(SERVER_NAMES, name=f"fid-{kind}-server-es", space="tests",
                                    **({} if kind == "revoked" else {"validity": "expired"}))
    if kind == "revoked":
        lab.pki.revoke(crt)
    serve_with(lab, crt, key)
    return Observed.of_attempt(attempt(lab.server, sslmode="verify-ca", sslrootcert=lab.p.root_crt, user="reporter",
                                       password=lab.passwords["reporter"],
                                       extra={"sslcrl": lab.p.combined_crl} if kind == "revoked" else None))


def _relayed(lab: Lab) -> Observed:
    """SCRAM bound to the relay's certificate (tests/test_catalogue_ends.py's relay). attempt() keeps the log
    of connections to the lab's own port, so the server's words are read from the log directly."""
    lab.configure(["hostssl all reporter 0.0.0.0/0 scram-sha-256"])
    mark = lab.server.log_mark()
    with tls_relay(lab.server, lab.p.server2_crt, lab.p.server2_key) as port:
        result = attempt(lab.server, sslmode="require", channel_binding="require", user="reporter",
                         password=lab.passwords["reporter"], extra={"port": port})
    assert not result.connected, result
    return Observed(result.error_text or "", lab.server.log_since(mark), raw=result)


SCENARIOS = {**SERVER_SCENARIOS_15, "channel_binding_mismatch": _relayed,
             "server_cert_revoked": lambda lab: _server_cert_refused(lab, "revoked"),
             "server_cert_expired": lambda lab: _server_cert_refused(lab, "expired")}

# The English message (msgid) each scenario's server log must show in Spanish instead.
MSGIDS: dict[str, str] = {
    "protocol_range_invalid": "could not set SSL protocol version range",
    "protocol_setting_invalid": 'invalid value for parameter "%s": "%s"',
    "protocol_mismatch": "could not accept SSL connection: %s",
    "legacy_tls_seclevel": "could not accept SSL connection: %s",
    "key_permissions": 'private key file "%s" has group or world access',
    "key_bad_decrypt": 'could not load private key file "%s": %s',
    "key_needs_passphrase_at_reload": 'private key file "%s" cannot be reloaded because it requires a passphrase',
    "key_mismatch": 'could not load private key file "%s": %s',
    "server_cert_file_unreadable": 'could not load server certificate file "%s": %s',
    "clientcert_invalid": 'invalid value for clientcert: "%s"',
    "hostssl_without_ssl": "hostssl record cannot match because SSL is disabled",
    "cert_auth_failed": 'certificate authentication failed for user "%s"',
    "client_cert_required": "connection requires a valid client certificate",
    "password_failed": 'password authentication failed for user "%s"',
    "no_hba_no_encryption": 'no pg_hba.conf entry for host "%s", user "%s", database "%s", %s',
    "no_hba_ssl": 'no pg_hba.conf entry for host "%s", user "%s", database "%s", %s',
    "cert_revoked": "could not accept SSL connection: %s",
    "cert_expired": "could not accept SSL connection: %s",
    "unknown_ca": "could not accept SSL connection: %s",
    "server_cert_revoked": "could not accept SSL connection: %s",
    "server_cert_expired": "could not accept SSL connection: %s",
    "channel_binding_mismatch": "SCRAM channel binding check failed",
    "usermap_no_match": 'no match in usermap "%s" for user "%s" authenticated as "%s"',
    "direct_tls_unsupported": "invalid length of startup packet",
    "setting_unknown": 'unrecognized configuration parameter "%s"',
    "tls13_setting_invalid": "ECDH: unrecognized curve name: %s",
}


def _as_regex(message: str) -> str:
    """A catalogue format string as a regex: its words literal, each %-placeholder any text."""
    return ".*?".join(re.escape(part) for part in re.split(r"%(?:\d\$)?[a-z]+", message))


@pytest.fixture(scope="session")
def spanish(lab15_es: LabServer) -> gettext.GNUTranslations:
    """PostgreSQL 15's Spanish message catalogue, the one the lab's server reads."""
    found = spanish_catalogue(lab15_es.state.bin_dir or "", 15)
    assert found is not None, "Debian's PostgreSQL 15 ships es/LC_MESSAGES/postgres-15.mo"
    with open(found, "rb") as handle:
        return gettext.GNUTranslations(handle)


@pytest.fixture
def lab(lab15_es: LabServer, pki: LabPKI) -> Iterator[Lab]:  # noqa: F811
    lab15_es.reset_config()
    lab15_es.reload()
    yield Lab(lab15_es, pki, ensure_roles(lab15_es))
    lab15_es.reset_config()
    lab15_es.reload()


def test_the_lab_logs_in_spanish_and_keeps_it_across_reset(lab: Lab) -> None:
    assert lab.server.show("lc_messages") == "es_ES.UTF-8"
    lab.server.reset_config()
    reload = lab.server.reload()
    assert "se recibió SIGHUP, volviendo a cargar archivos de configuración" in reload.log  # UTF-8, not "recibi?"
    assert lab.server.show("lc_messages") == "es_ES.UTF-8"


def test_every_spanish_pattern_names_an_entry_and_compiles() -> None:
    for key, patterns in catalogue_es.SERVER_PATTERNS.items():
        entry = catalogue.by_key(key)
        assert {p.pattern for p in entry.server} >= set(patterns), key


@pytest.mark.parametrize("key", sorted(SCENARIOS))
def test_spanish_server_wording_classifies_as_in_english(lab: Lab, spanish: gettext.GNUTranslations,
                                                         key: str) -> None:
    seen = SCENARIOS[key](lab)
    english, translated = MSGIDS[key], spanish.gettext(MSGIDS[key])
    assert translated != english, f"the catalogue has no Spanish for {english!r}"
    context = f"\n client: {seen.client_text}\n server log:\n{seen.server_log}"
    assert re.search(_as_regex(translated), seen.server_log), f"no Spanish /{translated}/{context}"
    assert not re.search(_as_regex(english), seen.server_log), f"the English wording is logged{context}"
    assert seen.key == key, f"classified as {seen.key!r}, expected {key!r}{context}"
    assert catalogue.explain(seen.client_text, seen.server_log).key == key  # the log alone, without the views


def test_every_server_side_entry_is_reproduced_in_spanish() -> None:
    """Each entry with server-log patterns has a Spanish scenario here, but sslinfo's (next test) and
    crl_missing, whose server words only PostgreSQL 16+ writes (the 'verification failed at depth 1' detail;
    on 15 the case reads as unknown_ca, reproduced above), direct_tls_alpn (direct TLS exists from 17, whose
    message 15's catalogue cannot have) and no_shared_suite_or_group (TLS 1.3 suites and groups are settable
    from 18; its Spanish head is the 'could not accept SSL connection' line reproduced above)."""
    server_side = {e.key for e in catalogue.CATALOGUE if e.server}
    assert server_side - set(SCENARIOS) == {"x509_field_invalid", "crl_missing", "direct_tls_alpn",
                                            "no_shared_suite_or_group"}, server_side - set(SCENARIOS)


def test_sslinfo_errors_stay_english_and_classify(lab: Lab, spanish: gettext.GNUTranslations) -> None:
    """sslinfo's messages are not in PostgreSQL's Spanish catalogue: the Spanish server sends them in English."""
    msgid = 'invalid X.509 field name: "%s"'
    assert spanish.gettext(msgid) == msgid
    lab.cert_auth()
    mark = lab.server.log_mark()
    with session(lab.server, sslmode="verify-ca", sslrootcert=lab.p.root_crt, sslcert=lab.p.client_crt,
                 sslkey=lab.p.client_key, user="conssl", password=None) as conn:
        with pytest.raises(Exception) as raised:
            conn.execute("SELECT ssl_client_dn_field('bogus')")
    log = lab.server.log_since(mark)
    assert 'ERROR:  invalid X.509 field name: "bogus"' in log and "conexión autorizada" in log, log
    assert catalogue.explain(str(raised.value), log).key == "x509_field_invalid"


def test_the_spanish_lab_still_connects_when_configured_right(lab: Lab) -> None:
    lab.cert_auth()
    result = lab.client(lab.p.client_crt, lab.p.client_key)
    connected(result)
    assert "conexión autorizada" in result.server_log or "conexión recibida" in result.server_log


def test_a_spanish_fatal_relayed_to_the_client_explains_alone() -> None:
    """The server sends the client its message in its own language; pasted alone, it still explains."""
    text = ('psql: error: connection to server at "127.0.0.1", port 5416 failed: FATAL:  la autentificación '
            'password falló para el usuario «reporter»')
    assert catalogue.explain(text).key == "password_failed"
    assert catalogue.explain("FATAL:  la conexión requiere un certificado de cliente válido").key \
        == "client_cert_required"


# ---------------------------------------------------------------------------------------------------------
# Causes and fixes in both languages
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def in_spanish() -> Iterator[None]:
    before = i18n.current_language()
    i18n.set_language("es")
    yield
    i18n.set_language(before)


def test_every_entry_has_cause_and_fix_in_both_languages() -> None:
    assert set(catalogue_es.TEXTS) == {e.key for e in catalogue.CATALOGUE}
    for entry in catalogue.CATALOGUE:
        for text in (entry.cause_en, entry.fix_en, entry.cause_es, entry.fix_es):
            assert len(text) > 20, entry.key
        assert entry.cause_es != entry.cause_en and entry.fix_es != entry.fix_en, entry.key
    words = sum(len((e.cause_es + " " + e.fix_es).split()) for e in catalogue.CATALOGUE)
    assert words > 1000, words


def test_english_is_the_default_and_spanish_follows_set_language(in_spanish: None) -> None:
    text = "FATAL:  password authentication failed for user \"reporter\""
    entry = catalogue.by_key("password_failed")
    shown = str(catalogue.explain(text))
    assert entry.cause == entry.cause_es and entry.cause_es in shown and entry.fix_es in shown
    assert "causa:" in shown and "solución:" in shown and entry.cause_en not in shown
    assert catalogue.as_dataframe().set_index("key").loc["password_failed", "fix"] == entry.fix_es
    i18n.set_language("en")
    shown = str(catalogue.explain(text))
    assert entry.cause_en in shown and "cause:" in shown and entry.cause_es not in shown
    assert catalogue.explain(text).key == "password_failed"  # keys do not change language


def test_spanish_catalogue_files_are_where_the_check_looks(tmp_path: Path) -> None:
    assert spanish_catalogue("/usr/lib/postgresql/15/bin", 15) is not None
    assert spanish_catalogue(tmp_path, 15) is None
