"""Exercises with self-checks: a learner's answer is applied to the real lab, observed, and explained.

Why this module exists: a lesson that only runs teaches a reader to press Shift-Enter. An exercise asks
for the thing a DBA really writes -- a pg_hba.conf line, a postgresql.conf setting, a connection string,
a revocation step -- and :meth:`Exercises.check` puts that answer through labkit's own validated paths
(:mod:`labkit.quoting` refuses a value that could add a line, :func:`labkit.transaction.apply` reloads and
rolls back what the server rejects), then tries real connections (:func:`labkit.client.attempt`) and says
in plain words what happened and why that is, or is not, what the task asked. A refused connection is
explained by the error catalogue (:mod:`labkit.catalogue`: cause and fix); a connection that should have
been refused is explained by the exercise's own sentence. Nothing is judged from the answer's text: the
verdict is computed from what the server and the client did.

The exercises themselves are data (:data:`EXERCISES`): what the lab starts from, which clients are tried,
which of them must get in. The notebooks ``notebooks/exercises/NN_ex_*.ipynb`` (built by
``tools/build_exercises.py`` from ``notebooks/src/exercises/``) ask for the answers. What a check says is
English here and Spanish in :mod:`labkit.exercises_es`, chosen by :func:`labkit.i18n.current_language`.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import catalogue, exercises_es, quoting
from .client import AttemptResult, attempt
from .errors import InvalidValue, LabkitError
from .i18n import current_language, word
from .layers import Layer, TlsFile, layer_ca, layer_crl, layer_hostssl, layer_ssl_on
from .transaction import apply

if TYPE_CHECKING:
    from .lesson import Lesson
    from .pki import LabPKI

__all__ = ["EXERCISES", "Exercise", "ExerciseFailed", "Exercises", "Probe", "Verdict", "parse_conf_answer",
           "parse_conninfo_answer"]

KINDS: tuple[str, ...] = ("hba", "conf", "conninfo", "revocation")
#: Settings whose value is a file: the answer names a file of the lab PKI, labkit delivers it.
FILE_SETTINGS: tuple[str, ...] = ("ssl_cert_file", "ssl_key_file", "ssl_ca_file", "ssl_crl_file")
#: libpq keywords whose value is a file: the answer names a file of the lab PKI.
FILE_KEYWORDS: tuple[str, ...] = ("sslrootcert", "sslcert", "sslkey", "sslcrl")
#: libpq keywords an answer may use (host and port are the lab's; passwords are generated and passed by labkit).
CONNINFO_KEYWORDS: tuple[str, ...] = (*FILE_KEYWORDS, "sslmode", "user", "dbname", "host",
                                      "ssl_min_protocol_version", "ssl_max_protocol_version", "channel_binding")
LOOPBACK_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1")


class ExerciseFailed(LabkitError):
    """At least one exercise of a notebook was not solved (what ``labkit run`` reports for a learner)."""


def _say(text: str, **fields: object) -> str:
    """``text`` (a phrase, or a frame with ``{named}`` fields) in the edition's language: the Spanish of
    :data:`labkit.exercises_es.PHRASES` when it is ``es`` and the table knows it, else the English given."""
    if current_language() == "es":
        text = exercises_es.PHRASES.get(text, text)
    return text.format(**fields) if fields else text


def _own(exercise: Exercise, field_name: str, english: str, label: str = "") -> str:
    """One of the exercise's own texts (task, hint, why_right; ``if_wrong`` of the probe ``label``) in the
    edition's language, from :data:`labkit.exercises_es.EXERCISES` when it is ``es``."""
    if current_language() != "es":
        return english
    spanish = exercises_es.EXERCISES.get(exercise.key, {}).get(field_name, english)
    return str(spanish.get(label, english) if isinstance(spanish, dict) else spanish)


# --------------------------------------------------------------------------------------------------------
# The exercises as data
# --------------------------------------------------------------------------------------------------------

Setup = Callable[["LabPKI"], Sequence[Layer]]


@dataclass(frozen=True)
class Probe:
    """One client the check tries after the answer is in force, and whether it must get in.

    ``client`` holds libpq keywords; a value ``"pki:<attr>"`` is a file of the lab PKI. ``server`` (only for
    connection-string exercises) is the server state this client meets. ``if_wrong`` says in plain words
    why the outcome is wrong when the probe connected but should not have (a refusal is explained by the
    catalogue)."""

    label: str
    connects: bool
    client: Mapping[str, str] = field(default_factory=dict)
    role: str = "conssl"
    password: bool = True
    server: Setup | None = None
    if_wrong: str = ""
    refused_note: Mapping[str, str] = field(default_factory=dict)  # error key -> what else it can mean here


@dataclass(frozen=True)
class Exercise:
    """One task: what the learner writes (``kind``), where the lab starts (``setup``), what is tried."""

    key: str
    part: int
    kind: str
    task: str
    hint: str
    setup: Setup
    probes: tuple[Probe, ...] = ()
    served: str = ""  # for conf exercises: the PKI file name the server must present afterwards
    why_right: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"exercise {self.key!r}: kind {self.kind!r} is not one of {KINDS}")


def _tls_on(pki: LabPKI) -> list[Layer]:
    return [layer_ssl_on(pki, cert="server_chain")]


def _leaf_only(pki: LabPKI) -> list[Layer]:
    return [layer_ssl_on(pki, cert="server")]


def _tls_off(pki: LabPKI) -> list[Layer]:
    return [Layer(key="EX-off", title="TLS off", settings={"ssl": False})]


def _impostor(pki: LabPKI) -> list[Layer]:
    return [layer_ssl_on(pki, cert="wrong_host")]


def _cert_auth(pki: LabPKI) -> list[Layer]:
    return [layer_ssl_on(pki), layer_ca(pki, "combined"), layer_hostssl("cert", ("conssl",), "verify-full")]


def _cert_auth_crl(pki: LabPKI) -> list[Layer]:
    return [*_cert_auth(pki), layer_crl(pki, "combined")]


def _ca_only(pki: LabPKI) -> list[Layer]:
    return [layer_ssl_on(pki), layer_ca(pki, "combined")]


_VERIFY = {"sslmode": "verify-full", "sslrootcert": "pki:combined_crt"}
# Through Docker's published port every client arrives from the bridge's gateway (e.g. 172.17.0.1).
_DOCKER_ADDRESS = {"no_hba_ssl": "If the line's address is 127.0.0.1/32: on the Docker backend clients arrive from "
                                 "the bridge's gateway, not from 127.0.0.1; use 0.0.0.0/0 (the server listens on "
                                 "loopback only either way)."}
# A client that trusts only the root sends only its leaf: OpenSSL adds to the certificate it sends the
# intermediates it finds in its own trust store, so sslrootcert=combined.crt would send the chain along.
_ROOT_VERIFY = {"sslmode": "verify-full", "sslrootcert": "pki:root_crt"}
_CERT_CLIENT = {**_VERIFY, "sslcert": "pki:client_crt", "sslkey": "pki:client_key"}

EXERCISES: dict[str, Exercise] = {e.key: e for e in (
    # ---- part 0: requirements and the PKI --------------------------------------------------------------
    Exercise(
        "E0.1", 0, "conninfo",
        "Write a connection string (libpq keywords) for conssl that never talks to this database without TLS.",
        "e.g. 'sslmode=... user=conssl'; files are named as in the lab PKI (root.crt, combined.crt ...)",
        _tls_on, (
            Probe("server with TLS on", True, server=_tls_on),
            Probe("server with TLS off", False, server=_tls_off,
                  if_wrong="the client fell back to a plaintext connection: 'disable', 'allow' and 'prefer' "
                           "accept a server that offers no TLS; 'require' and the verify modes refuse it"),
        ), why_right="libpq refused the server without TLS and connected with TLS to the one that has it"),
    Exercise(
        "E0.2", 0, "conf",
        "The server presents only its leaf certificate; a client trusts only root.crt. Write the "
        "postgresql.conf setting that makes verify-full work for that client.",
        "one line 'name = value'; file values are PKI file names such as 'server.crt'",
        _leaf_only, (
            Probe("client trusting only root.crt", True, {"sslmode": "verify-full", "sslrootcert": "pki:root_crt"}),
        ),
        why_right="the server now sends its leaf with the intermediate, so a client holding only the root can "
                  "build the chain"),
    # ---- part 1: the server layers --------------------------------------------------------------------
    Exercise(
        "E1.1", 1, "hba",
        "Write one pg_hba.conf line that lets conssl in over TCP only with TLS and its password.",
        "TYPE DATABASE USER ADDRESS METHOD, e.g. 'host all conssl 127.0.0.1/32 md5' (that one is not it)",
        _tls_on, (
            Probe("conssl, TLS + password", True, {"sslmode": "require"}, refused_note=_DOCKER_ADDRESS),
            Probe("conssl, no TLS", False, {"sslmode": "disable"},
                  if_wrong="a 'host' line matches TCP connections with and without TLS; only 'hostssl' "
                           "lines match TLS connections alone"),
        ), why_right="the hostssl line matched the TLS connection; the plaintext one found no line at all"),
    Exercise(
        "E1.2", 1, "conf",
        "Write the postgresql.conf setting that refuses every client that cannot speak TLS 1.3.",
        "one line 'name = value', e.g. ssl_..._protocol_version = 'TLSv1.x'",
        _tls_on, (
            Probe("client up to TLS 1.3", True, {"sslmode": "require"}),
            Probe("client limited to TLS 1.2", False, {"sslmode": "require", "ssl_max_protocol_version": "TLSv1.2"},
                  if_wrong="a client that stops at TLS 1.2 still completed a handshake: the floor "
                           "(ssl_min_protocol_version) is below TLSv1.3"),
        ), why_right="the TLS 1.2 client was refused during the handshake; the TLS 1.3 client got in"),
    Exercise(
        "E1.3", 1, "conf",
        "Certificate authentication is on; revoked-client.crt is listed by the intermediate CA. Write the "
        "setting that makes the server refuse it while client.crt still gets in.",
        "one line 'name = value'; the lab PKI has root.crl, intermediate.crl and combined.crl",
        _cert_auth, (
            Probe("client.crt", True, _CERT_CLIENT, password=False, refused_note={
                "unknown_ca": "Here it can also mean a CRL missing for one CA of the chain: before PostgreSQL 16 "
                              "the server logs only 'certificate verify failed' for both."}),
            Probe("revoked-client.crt", False, {**_VERIFY, "sslcert": "pki:revoked_client_crt",
                                                "sslkey": "pki:revoked_client_key"}, password=False,
                  if_wrong="the revoked certificate was accepted: the server has no CRL that lists it"),
        ), why_right="the CRL covers every CA of the chain: the revoked leaf failed, the good one passed"),
    Exercise(
        "E1.4", 1, "conf",
        "The server must accept client certificates issued by the lab intermediate (the client sends only its "
        "leaf). Write the ssl_ca_file setting.",
        "one line 'name = value'; the lab PKI has root.crt, intermediate.crt and combined.crt",
        lambda pki: [layer_ssl_on(pki, cert="server_chain"), layer_hostssl("cert", ("conssl",), "verify-full")], (
            Probe("client.crt (leaf only)", True, {**_ROOT_VERIFY, "sslcert": "pki:client_crt",
                                                   "sslkey": "pki:client_key"}, password=False),
            Probe("rogue-client.crt (a foreign CA)", False, {**_ROOT_VERIFY, "sslcert": "pki:rogue_client_crt",
                                                             "sslkey": "pki:rogue_client_key"}, password=False,
                  if_wrong="a certificate from a CA outside the lab was accepted"),
        ), why_right="with root + intermediate the server could build the client's chain; the foreign CA's "
                     "certificate has no chain to it"),
    # ---- part 2: the clients --------------------------------------------------------------------------
    Exercise(
        "E2.1", 2, "conninfo",
        "Write a connection string for conssl that connects to the real lab server but refuses an impostor "
        "whose certificate, from the same CA, names another host.",
        "e.g. 'sslmode=... sslrootcert=combined.crt user=conssl'",
        _tls_on, (
            Probe("the real server", True, server=_tls_on),
            Probe("impostor: same CA, other host name", False, server=_impostor,
                  if_wrong="the client accepted a certificate that names another host: 'require' checks "
                           "nothing and 'verify-ca' checks only the issuer; 'verify-full' also checks the name"),
        ), why_right="the certificate chain and the host name were both checked"),
    Exercise(
        "E2.2", 2, "conninfo",
        "The server authenticates conssl by certificate (pg_hba 'cert'). Write conssl's connection string "
        "(no password is sent).",
        "sslmode, sslrootcert, sslcert, sslkey and user; files as named in the lab PKI (client.crt ...)",
        _cert_auth, (Probe("conssl by certificate", True, server=_cert_auth, password=False),),
        why_right="the server verified conssl's certificate and its CN matched the role"),
    Exercise(
        "E2.3", 2, "hba",
        "The server trusts the lab CAs for client certificates. Write the pg_hba.conf line that lets conssl "
        "in with its certificate alone, and nobody without one.",
        "TYPE DATABASE USER ADDRESS METHOD [OPTIONS]",
        _ca_only, (
            Probe("conssl with client.crt, no password", True, _CERT_CLIENT, password=False,
                  refused_note=_DOCKER_ADDRESS),
            Probe("conssl with password, no certificate", False, _VERIFY,
                  if_wrong="conssl got in with only its password: the line does not ask for a certificate "
                           "(method 'cert', or clientcert=verify-full on a password line)"),
        ), why_right="the certificate alone authenticated conssl; without one the server refused"),
    # ---- part 3: operations ---------------------------------------------------------------------------
    Exercise(
        "E3.1", 3, "conf",
        "Rotate the server certificate: make the server present server2.crt (new clients verify it with "
        "combined.crt). Write the postgresql.conf lines.",
        "one 'name = value' per line; a certificate and its key travel together",
        _tls_on, (Probe("new client, verify-full", True, _VERIFY),), served="server2.crt",
        why_right="the reload took the new certificate and its key; new sessions get server2.crt"),
    Exercise(
        "E3.2", 3, "revocation",
        "conssl's laptop was stolen. Write respond(stolen_crt): the steps that lock the stolen certificate "
        "out of the running server while the other client keeps working.",
        "def respond(stolen_crt): ... using lesson.pki and lk.apply(lesson.lab, ...)",
        _cert_auth_crl, (
            Probe("the stolen certificate", False, {**_VERIFY}, password=False,
                  if_wrong="the stolen certificate still connects"),
            Probe("client.crt (not stolen)", True, _CERT_CLIENT, password=False),
        ), why_right="the CA listed the stolen certificate and the server reloaded the new CRL"),
)}


# --------------------------------------------------------------------------------------------------------
# Reading an answer (nothing is written before it is understood)
# --------------------------------------------------------------------------------------------------------

_CONF_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=?\s*(.*?)\s*$")
_QUOTED = re.compile(r"^('(?:[^']|'')*')\s*(?:#.*)?$")


def _conf_value(name: str, raw: str) -> object:
    """A postgresql.conf value as its lexer reads it: a quoted string ('' is a quote), on/off, a number,
    or a bare word."""
    if raw.startswith("'"):
        if len(raw) < 2 or not raw.endswith("'"):
            raise InvalidValue(f"value of {name}", raw, "a complete quoted string such as 'TLSv1.3'")
        return raw[1:-1].replace("''", "'")
    if raw.lower() in ("on", "true", "yes"):
        return True
    if raw.lower() in ("off", "false", "no"):
        return False
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if not re.fullmatch(r"[A-Za-z0-9_.\-]+", raw):
        raise InvalidValue(f"value of {name}", raw, "on/off, a number, a word, or a quoted string")
    return raw


def parse_conf_answer(answer: str) -> dict[str, object]:
    """``name = value`` lines (comments and blank lines allowed) as a dict; names checked by
    :func:`labkit.quoting.conf_name`, so an include directive or a second setting in a value is refused."""
    settings: dict[str, object] = {}
    for line in answer.splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        match = _CONF_LINE.match(text)
        if not match or not match.group(2):
            raise InvalidValue("postgresql.conf line", line, "name = value, e.g. ssl_min_protocol_version = 'TLSv1.3'")
        name = quoting.conf_name(match.group(1))
        quoted = _QUOTED.match(match.group(2))  # a quoted value may hold '#'; a comment may follow it
        raw = quoted.group(1) if quoted else match.group(2).split("#", 1)[0].strip()
        settings[name] = _conf_value(name, raw)
    if not settings:
        raise InvalidValue("postgresql.conf answer", answer, "at least one 'name = value' line")
    return settings


def parse_conninfo_answer(answer: str) -> dict[str, str]:
    """A libpq connection string (``key=value ...`` or a ``postgresql://`` URI) as keywords, parsed by
    psycopg's own parser; only the keywords a lab client may set are accepted."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = {k: str(v) for k, v in conninfo_to_dict(answer).items() if v is not None}
    except ProgrammingError as exc:
        raise InvalidValue("connection string", answer, "libpq keywords such as 'sslmode=verify-full user=conssl'",
                           str(exc).splitlines()[0]) from None
    for key in params:
        if key not in CONNINFO_KEYWORDS:
            hint = ("the lab's port and generated passwords are passed by labkit" if key in ("port", "password")
                    else None)
            raise InvalidValue("connection string keyword", key, CONNINFO_KEYWORDS, hint)
    if params.get("host", "localhost") not in LOOPBACK_HOSTS:
        raise InvalidValue("host", params["host"], LOOPBACK_HOSTS, "the lab listens on loopback only")
    return params


def _pki_files(pki: LabPKI) -> dict[str, Path]:
    return {path.name: path for path in pki.paths.all().values() if path.suffix in (".crt", ".key", ".crl")}


def _pki_file(pki: LabPKI, what: str, name: object) -> Path:
    files = _pki_files(pki)
    if not isinstance(name, str) or name not in files:
        raise InvalidValue(what, name, sorted(files), "name a file of the lab PKI by its file name")
    return files[name]


def _answer_layer(exercise: Exercise, pki: LabPKI, answer: str) -> Layer:
    """The learner's pg_hba line or postgresql.conf lines as a Layer (checked by labkit's writers)."""
    if exercise.kind == "hba":
        lines = [line for line in answer.splitlines() if line.strip() and not line.strip().startswith("#")]
        if len(lines) != 1:
            raise InvalidValue("pg_hba line", answer, "exactly one pg_hba.conf line",
                               "the exercise asks for one line; comments (#) may stand on their own lines")
        return Layer(key=exercise.key, title=f"answer to {exercise.key}",
                     hba_rules=tuple(quoting.hba_line(line.strip()) for line in lines))
    settings: dict[str, object] = {}
    files: dict[str, Path] = {}
    for name, value in parse_conf_answer(answer).items():
        if name in FILE_SETTINGS:
            path = _pki_file(pki, f"value of {name}", value)
            files[path.name] = path
            settings[name] = TlsFile(path.name)
        else:
            settings[name] = value
    return Layer(key=exercise.key, title=f"answer to {exercise.key}", settings=settings, files=files)


# --------------------------------------------------------------------------------------------------------
# The verdict
# --------------------------------------------------------------------------------------------------------


@dataclass(repr=False)
class Verdict:
    """What a check saw and what it means: ``ok``, one plain-words ``said``, and the attempts behind it."""

    exercise: str
    ok: bool
    said: str
    observed: list[tuple[Probe, AttemptResult]] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """One row per client tried: should it get in, did it, how, and the catalogue's key."""
        rows = [{"client": probe.label, "should connect": probe.connects, "connected": result.connected,
                 "outcome": result.outcome, "as expected": probe.connects == result.connected}
                for probe, result in self.observed]
        return pd.DataFrame(rows, columns=["client", "should connect", "connected", "outcome", "as expected"])

    def __str__(self) -> str:
        return f"{self.exercise}: {_say('RIGHT' if self.ok else 'NOT YET')} -- {self.said}"

    __repr__ = __str__  # the notebook's plain-text output: no ports, pids or paths of the attempts behind it

    def _repr_html_(self) -> str:
        import html

        from . import tables

        head = f"<p><b>{html.escape(self.exercise)}: {_say('right' if self.ok else 'not yet')}</b> -- " \
               f"{html.escape(self.said)}</p>"
        if not self.observed:
            return head
        frame = self.frame()
        frame["client"] = [_say(label) for label in frame["client"]]  # the labels as the sentences say them
        table = tables.verdict(frame, "as expected", uuid=f"ex_{self.exercise.replace('.', '_')}")
        return head + table.to_html()


def _refusal(result: AttemptResult) -> str:
    """Why a connection failed, in the catalogue's words (or the client's own message when it has none)."""
    entry = result.entry
    if entry is None:
        return _say("refused ({message})", message=result.error_text.strip().splitlines()[0] if result.error_text
                    else _say("no message"))
    return _say("refused: {key} -- {cause} Fix: {fix}", key=entry.key, cause=entry.cause, fix=entry.fix)


def _judge(exercise: Exercise, observed: list[tuple[Probe, AttemptResult]], extra: Sequence[str] = ()) -> Verdict:
    wrong: list[str] = []
    seen: list[str] = []
    for probe, result in observed:
        label = _say(probe.label)
        how = (_say("connected ({tls})", tls=result.tls_version or _say("without TLS")) if result.connected
               else _refusal(result))
        seen.append(f"{label}: {how if result.connected else _say('refused ({message})', message=result.outcome)}")
        if result.connected and not probe.connects:
            why = _own(exercise, "if_wrong", probe.if_wrong, probe.label)
            wrong.append(_say("{label} {how}, but must be refused: {why}.", label=label, how=how, why=why))
        elif not result.connected and probe.connects:
            note = _say(probe.refused_note.get(result.error_key or "", ""))
            wrong.append(_say("{label} must get in but was {how}", label=label, how=how) + (f" {note}" if note else ""))
    wrong += extra
    if wrong:
        return Verdict(exercise.key, False, " ".join(wrong), observed)
    return Verdict(exercise.key, True, _say("{seen}. Right: {why}.", seen="; ".join(seen),
                                            why=_own(exercise, "why_right", exercise.why_right)), observed)


# --------------------------------------------------------------------------------------------------------
# Checking
# --------------------------------------------------------------------------------------------------------


def _is_blank(answer: object) -> bool:
    return answer is None or answer is Ellipsis or (isinstance(answer, str) and not answer.strip())


class Exercises:
    """The exercises of one part, checked against a started lesson's lab; :meth:`finish` says what is left.

    Each :meth:`check` starts from the exercise's own starting point (the lab's configuration is reset and
    the starting layers applied), so the exercises can be done in any order and done again."""

    def __init__(self, lesson: Lesson, part: int) -> None:
        keys = [key for key, e in EXERCISES.items() if e.part == part]
        if not keys:
            raise InvalidValue("part", part, sorted({e.part for e in EXERCISES.values()}))
        self.lesson, self.part, self.keys = lesson, part, keys
        self.verdicts: dict[str, Verdict] = {}

    def task(self, key: str) -> str:
        """The task and its hint, as the notebook shows them."""
        exercise = self._exercise(key)
        return _say("{key} ({kind}): {task}\n  hint: {hint}", key=exercise.key, kind=exercise.kind,
                    task=_own(exercise, "task", exercise.task), hint=_own(exercise, "hint", exercise.hint))

    def _exercise(self, key: str) -> Exercise:
        if key not in self.keys:
            raise InvalidValue("exercise", key, self.keys)
        return EXERCISES[key]

    def check(self, key: str, answer: object) -> Verdict:
        """Apply ``answer`` to the lab, try the exercise's clients, and say what happened and why."""
        exercise = self._exercise(key)
        if _is_blank(answer):
            verdict = Verdict(key, False, _say("no answer yet. {task} (hint: {hint})",
                                               task=_own(exercise, "task", exercise.task),
                                               hint=_own(exercise, "hint", exercise.hint)))
        else:
            try:
                verdict = self._run(exercise, answer)
            except InvalidValue as exc:
                verdict = Verdict(key, False, _say("labkit did not write this answer: {message}", message=exc.message)
                                  + (f" ({exc.hint})" if exc.hint else ""))
        self.verdicts[key] = verdict
        return verdict

    def _start(self, layers: Sequence[Layer]) -> None:
        lab = self.lesson.lab
        lab.reset_config()
        result = apply(lab, *layers)
        if not result.ok:
            raise LabkitError(f"the exercise's starting point did not apply: {result.reason}",
                              "restart the notebook's kernel; `labkit reset` if it persists")

    def _client(self, params: Mapping[str, str | Path], probe: Probe) -> dict[str, Any]:
        """attempt() keywords: PKI files resolved (``pki:<attr>`` or a file name), the role's password."""
        pki = self.lesson.pki
        keywords: dict[str, Any] = {}
        for key, value in params.items():
            if isinstance(value, Path):
                keywords[key] = value
            elif value.startswith("pki:"):
                keywords[key] = getattr(pki.paths, value[4:])
            elif key in FILE_KEYWORDS:
                keywords[key] = _pki_file(pki, key, value)
            else:
                keywords[key] = value
        user = keywords.pop("user", probe.role)
        if user != probe.role:
            raise InvalidValue("user", user, (probe.role,), f"the exercise is about the role {probe.role}")
        extra = {k: keywords.pop(k) for k in list(keywords) if k not in _ATTEMPT_KEYWORDS}
        password = self.lesson.password(user) if probe.password and user in self.lesson.roles else None
        return {**keywords, "user": user, "password": password, "extra": extra or None}

    def _try(self, probe: Probe, params: Mapping[str, str | Path]) -> AttemptResult:
        return attempt(self.lesson.lab, label=probe.label, **self._client(params, probe))

    def _run(self, exercise: Exercise, answer: object) -> Verdict:
        if exercise.kind == "conninfo":
            params = parse_conninfo_answer(_text(answer))
            clients = [self._client({**probe.client, **params}, probe) for probe in exercise.probes]  # checked first
            observed = []
            for probe, client in zip(exercise.probes, clients):
                self._start(probe.server(self.lesson.pki) if probe.server else exercise.setup(self.lesson.pki))
                observed.append((probe, attempt(self.lesson.lab, label=probe.label, **client)))
            return _judge(exercise, observed)
        if exercise.kind == "revocation":
            return self._run_revocation(exercise, answer)
        layer = _answer_layer(exercise, self.lesson.pki, _text(answer))
        self._start(exercise.setup(self.lesson.pki))
        result = apply(self.lesson.lab, layer)
        if not result.ok:
            entry = catalogue.classify("", "\n".join(result.log))
            why = _say(" The catalogue: {key} -- {cause} Fix: {fix}", key=entry.key, cause=entry.cause,
                       fix=entry.fix) if entry else ""
            return Verdict(exercise.key, False, _say("the server refused the change and kept its previous "
                           "configuration (rolled back: {rolled_back}): {reason}.", rolled_back=word(result.rolled_back),
                           reason=result.reason) + why)
        observed = [(probe, self._try(probe, probe.client)) for probe in exercise.probes]
        return _judge(exercise, observed, self._served_problem(exercise))

    def _served_problem(self, exercise: Exercise) -> list[str]:
        if not exercise.served:
            return []
        from .handshake import served_certificate
        from .monitoring import pki_name

        lab = self.lesson.lab
        served = pki_name(self.lesson.pki, served_certificate(lab.host, lab.port).serial)
        if served == exercise.served:
            return []
        return [_say("a new handshake is served {served}, not {expected}.", served=served, expected=exercise.served)]

    def _run_revocation(self, exercise: Exercise, answer: object) -> Verdict:
        if not callable(answer):
            raise InvalidValue("answer", answer, "a function respond(stolen_crt)")
        pki = self.lesson.pki
        crt, key = pki.issue_client("conssl", name="client-stolen", space="exercises")
        self._start(exercise.setup(pki))
        stolen: dict[str, str | Path] = {**exercise.probes[0].client, "sslcert": crt, "sslkey": key}
        before = self._try(exercise.probes[0], stolen)
        if not before.connected:
            raise LabkitError(f"the fresh certificate did not connect before the answer ran: {_refusal(before)}",
                              "restart the notebook's kernel; `labkit reset` if it persists")
        try:
            answer(crt)
        except Exception as exc:  # noqa: BLE001 - the learner's code: say what it raised, do not crash the check
            return Verdict(exercise.key, False, _say("respond() raised {error}: {message}",
                                                     error=type(exc).__name__, message=exc))
        observed = [(exercise.probes[0], self._try(exercise.probes[0], stolen)),
                    *((p, self._try(p, p.client)) for p in exercise.probes[1:])]
        extra: list[str] = []
        if observed[0][1].connected:
            rows = pki.describe(space="exercises").set_index("file")
            listed = bool(rows.loc[Path(crt).relative_to(pki.root_dir).as_posix(), "revoked"])
            extra.append(_say("The CA lists it as revoked (pki.revoke), but the server still reads its old copy "
                              "of the CRL: deliver the new combined.crl and reload (apply layer_crl again).")
                         if listed else _say("The CA does not list it as revoked: nothing called pki.revoke on it."))
        return _judge(exercise, observed, extra)

    def finish(self) -> str:
        """Stop the lesson's lab, then fail (for ``labkit run``) naming every exercise not yet right."""
        self.lesson.finish()
        left = [key for key in self.keys if not (key in self.verdicts and self.verdicts[key].ok)]
        if left:
            said = "; ".join(str(self.verdicts[k]) if k in self.verdicts else _say("{key}: not checked", key=k)
                             for k in left)
            raise ExerciseFailed(_say("{left} of {total} exercises of part {part} not solved: {said}", left=len(left),
                                      total=len(self.keys), part=self.part, said=said),
                                 _say("change the answer cells and run the notebook again"))
        return _say("all {total} exercises of part {part} are right", total=len(self.keys), part=self.part)


_ATTEMPT_KEYWORDS = frozenset({"sslmode", "user", "dbname", "sslrootcert", "sslcert", "sslkey", "host",
                               "ssl_min_protocol_version", "ssl_max_protocol_version", "channel_binding"})


def _text(answer: object) -> str:
    if not isinstance(answer, str):
        raise InvalidValue("answer", answer, "a string")
    return answer
