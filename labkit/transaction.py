"""Apply and undo layers as a transaction, and remember which are in force.

Why this module exists: a lesson that measures what a hardening step buys must be able to switch it on,
observe, and switch it off again without leaving the server half-configured. PostgreSQL itself keeps the
previous configuration when a reload fails (``pg_hba.conf was not reloaded``, ``SSL configuration was not
reloaded``), but the *files* stay broken, so the next unrelated reload or restart would trip over them.
:func:`apply` therefore runs

    validate (values, files, what this server version accepts) -> deliver files -> write settings / pg_hba
    -> reload (or restart) -> read both error views and the log -> keep, or roll back and say why

and :func:`revert` undoes layers by what :func:`apply` recorded (a small JSON file next to state.json).
The evidence of every change is a :class:`labkit.server.ReloadResult` -- the one reload result type --
wrapped in an :class:`ApplyResult` that adds what the transaction did about it.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import messages, paths
from .errors import InvalidValue, LabkitError, ServerStartError
from .layers import Layer, TlsFile, known_settings_check
from .server import ReloadResult

if TYPE_CHECKING:
    from .server import LabServer

__all__ = ["ApplyResult", "ReloadCheck", "RestartCheck", "TRACK_FILE", "applied", "apply", "checked_reload",
           "checked_restart", "file_replaced", "restore_server_file", "revert", "server_file", "server_needs"]

TRACK_FILE = "layers.json"
"""Name of the file, next to the workspace's state.json, that records which layers are applied."""

# pg_settings.context values for which a reload is not enough.
_RESTART_CONTEXTS = frozenset({"postmaster"})


class _Evidence:
    """Views of the :class:`~labkit.server.ReloadResult` a result carries as ``evidence``."""

    evidence: ReloadResult

    @property
    def file_errors(self) -> pd.DataFrame:
        return self.evidence.file_errors

    @property
    def hba_errors(self) -> pd.DataFrame:
        return self.evidence.hba_errors

    @property
    def log(self) -> list[str]:
        return self.evidence.log.splitlines()


@dataclass
class ApplyResult(_Evidence):
    """What :func:`apply` or :func:`revert` did, in the terms the guide uses to check a change.

    ``evidence`` is the reload (or restart) of the attempted change as a :class:`~labkit.server.ReloadResult`.
    ``ok`` is False when the server rejected the change; ``rolled_back`` then says the previous files were
    written back (and reloaded); the evidence is from the rejected attempt, not from the rollback.
    """

    layers: list[str]
    ok: bool
    action: str
    evidence: ReloadResult
    rolled_back: bool
    seconds: float
    reason: str = ""

    @property
    def problems(self) -> list[str]:
        """The log lines that made the change fail, with the DETAIL/CONTEXT lines that follow them."""
        return messages.problem_lines(self.log)

    def summary(self) -> pd.DataFrame:
        """One row per finding (or one row saying all is well), for a notebook cell."""
        head = {"layers": ", ".join(self.layers), "ok": self.ok, "action": self.action,
                "rolled_back": self.rolled_back, "seconds": round(self.seconds, 4)}
        rows: list[dict[str, Any]] = []
        for rec in self.file_errors.to_dict("records"):
            rows.append({**head, "source": "pg_file_settings",
                         "detail": f"{rec.get('name')} = {rec.get('setting')!r}: {rec.get('error')}"})
        for rec in self.hba_errors.to_dict("records"):
            rows.append({**head, "source": "pg_hba_file_rules",
                         "detail": f"line {rec.get('line_number')}: {rec.get('error')}"})
        for line in self.problems:
            rows.append({**head, "source": "server log", "detail": line})
        if not rows:
            rows.append({**head, "source": "", "detail": self.reason or "applied; no errors"})
        elif self.reason:
            rows.insert(0, {**head, "source": "labkit", "detail": self.reason})
        return pd.DataFrame(rows, columns=[*head, "source", "detail"])

    def frame(self) -> pd.DataFrame:
        """:meth:`summary` without the volatile columns, each detail reduced with :func:`labkit.messages.gist`
        (what a lesson compares)."""
        frame = self.summary().drop(columns=["seconds"])
        frame["detail"] = [messages.gist(d) for d in frame["detail"]]
        return frame


# --------------------------------------------------------------------------------------------------------
# Applying
# --------------------------------------------------------------------------------------------------------


@dataclass
class _Snapshot:
    """Everything apply() may change, as it was: formatted settings, lesson pg_hba rules, tls/ files."""

    settings: dict[str, str]
    hba_rules: list[str] | None
    files: dict[str, bytes | None]


def _take_snapshot(lab: LabServer, file_names: Iterable[str]) -> _Snapshot:
    names = list(file_names)
    found = lab.backend.read_files([f"tls/{name}" for name in names]) if names else {}  # one call on Docker
    return _Snapshot(lab.settings, lab.hba_rules, {name: found[f"tls/{name}"] for name in names})


def _restore(lab: LabServer, snap: _Snapshot) -> None:
    with lab.files_written_together():
        lab.restore_settings(snap.settings)
        lab.set_hba_rules(snap.hba_rules)
        _restore_server_files(lab, snap.files)


def _file_mode(name: str) -> int:
    return 0o600 if name.endswith(".key") else 0o644


def _server_contexts(lab: LabServer, names: Iterable[str]) -> dict[str, str]:
    rows = lab.execute("SELECT name, context FROM pg_settings WHERE name = ANY(%s)", (sorted(set(names)),))
    return {r["name"]: r["context"] for r in rows}


def server_needs(lab: LabServer, *layers: Layer) -> str:
    """"reload" or "restart", as the server says: any setting whose ``pg_settings.context`` is
    ``postmaster`` needs a restart; everything else (sighup, and pg_hba.conf) takes a reload."""
    names = [n for layer in layers for n in layer.settings]
    contexts = _server_contexts(lab, names) if names else {}
    return "restart" if any(c in _RESTART_CONTEXTS for c in contexts.values()) else "reload"


def _validate(lab: LabServer, layers: Sequence[Layer]) -> None:
    """Everything that can be known before touching the server; raises InvalidValue."""
    if not layers:
        raise InvalidValue("layers", (), "at least one Layer", "e.g. apply(lab, layer_ssl_on(pki))")
    for layer in layers:
        if not isinstance(layer, Layer):
            raise InvalidValue("layers", layer, "Layer objects from the layer_* factories or guide_layers()")
        for name, path in layer.files.items():
            if not path.is_file():
                raise InvalidValue(f"{layer.key} file {name!r}", str(path), "an existing file on this host",
                                   "the PKI may have been removed; call LabPKI.ensure again")
        for check in layer.checks:
            check(lab)
        if not layer.unchecked and layer.settings:
            known_settings_check(list(layer.settings))(lab)


def _merge(layers: Sequence[Layer]) -> tuple[dict[str, object], list[str] | None, dict[str, Path]]:
    settings: dict[str, object] = {}
    rules: list[str] | None = None
    files: dict[str, Path] = {}
    for layer in layers:
        settings.update(layer.settings)
        files.update(layer.files)
        if layer.hba_rules is not None:
            rules = (rules or []) + list(layer.hba_rules)
    return settings, rules, files


def _resolve(lab: LabServer, settings: Mapping[str, object], delivered: Mapping[str, str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, value in settings.items():
        if isinstance(value, TlsFile):
            out[name] = delivered.get(value.name) or lab.backend.server_path(f"tls/{value.name}")
        else:
            out[name] = value
    return out


def _run(lab: LabServer, action: str) -> tuple[ReloadResult, str]:
    """Reload or restart; return the evidence and the failure text ('' when the server took the change)."""
    if action == "reload":
        # LabServer.reload returns only after the postmaster has also reloaded pg_hba.conf and the SSL
        # files, so "SSL configuration was not reloaded" is already in result.log.
        result = lab.reload()
        evidence = result
    else:
        mark, started = lab.log_mark(), time.perf_counter()
        try:
            lab.restart()
        except ServerStartError as exc:
            evidence = ReloadResult(pd.DataFrame(), pd.DataFrame(), lab.log_since(mark), time.perf_counter() - started)
            return evidence, f"the server did not start again: {exc.message}"
        evidence = ReloadResult(lab.file_setting_errors(), lab.hba_rule_errors(), lab.log_since(mark),
                                time.perf_counter() - started)
    reasons = []
    if not evidence.file_errors.empty:
        reasons.append(f"postgresql.conf has {len(evidence.file_errors)} error(s) (pg_file_settings)")
    if not evidence.hba_errors.empty:
        reasons.append(f"pg_hba.conf has {len(evidence.hba_errors)} error(s) (pg_hba_file_rules)")
    bad = messages.failure_lines(evidence.log.splitlines())
    if bad:
        reasons.append("the server log says: " + " | ".join(bad))
    return evidence, "; ".join(reasons)


def _change(lab: LabServer, keys: list[str], settings: Mapping[str, object] | None, formatted: Mapping[str, str] | None,
            hba: tuple[bool, list[str] | None], files: Mapping[str, Path], action: str) -> ApplyResult:
    """The transaction shared by apply() and revert(): snapshot, write, reload/restart, keep or roll back."""
    started = time.perf_counter()
    snap = _take_snapshot(lab, files)
    try:
        with lab.files_written_together():  # one archive on Docker, not three
            delivered = lab.deliver_files({name: (Path(path), _file_mode(name)) for name, path in files.items()})
            if formatted is not None:
                lab.restore_settings(formatted)
            if settings:
                lab.set_settings(_resolve(lab, settings, delivered))
            if hba[0]:
                lab.set_hba_rules(hba[1])
    except BaseException:
        _restore(lab, snap)
        raise
    try:
        evidence, failure = _run(lab, action)
    except LabkitError:
        # The server did not confirm the reload (timeout) or did not come back: put the files back so the
        # lab is at least consistent on disk, try once more to load them, and let the caller see the error.
        _restore(lab, snap)
        try:
            if action == "restart" and not lab.status()["running"]:
                lab.start()
            else:
                lab.reload()
        except LabkitError:
            pass
        raise
    if not failure:
        return ApplyResult(keys, True, action, evidence, False, time.perf_counter() - started)
    _restore(lab, snap)
    if action == "restart" and not lab.status()["running"]:
        lab.start()
        rb_failure = ""
    else:
        _, rb_failure = _run(lab, action)
    reason = f"rejected by the server, rolled back: {failure}"
    if rb_failure:
        reason += f"; the rollback {action} also reported: {rb_failure}"
    return ApplyResult(keys, False, action, evidence, True, time.perf_counter() - started, reason)


def apply(lab: LabServer, *layers: Layer) -> ApplyResult:
    """Apply ``layers`` together (later layers win on the same setting; pg_hba rules are concatenated).

    Validation (values, files, what this server version accepts) happens first and raises
    :class:`InvalidValue` with nothing changed. Then files are delivered, settings and pg_hba written, and
    the server reloaded -- or restarted when a setting's ``pg_settings.context`` is ``postmaster``. If the
    server rejects the change (errors in either view, or "was not reloaded" / "could not load" in the log)
    everything is written back as it was and reloaded again, and the result says why.
    """
    _validate(lab, layers)
    settings, rules, files = _merge(layers)
    action = server_needs(lab, *layers)
    before = lab.settings
    hba_before = lab.hba_rules
    result = _change(lab, [layer.key for layer in layers], settings, None, (rules is not None, rules), files, action)
    if result.ok:
        _track_apply(lab, layers, before, hba_before)
    return result


def revert(lab: LabServer, *layers: Layer | str) -> ApplyResult:
    """Undo layers: each setting goes back to what it was before :func:`apply` (when that was tracked and
    the layer is still in force), otherwise it is removed; pg_hba rules go back likewise (to the default
    rules when nothing was tracked). Accepts Layer objects or keys of applied layers."""
    if not layers:
        raise InvalidValue("layers", (), "at least one Layer or applied layer key")
    entries = {e["key"]: e for e in _live_entries(lab)}
    new_settings = lab.settings
    hba: tuple[bool, list[str] | None] = (False, None)
    keys: list[str] = []
    names: list[str] = []
    for item in layers:
        if isinstance(item, Layer):
            key, setting_names, sets_hba = item.key, list(item.settings), item.hba_rules is not None
        elif isinstance(item, str) and item in entries:
            key, setting_names, sets_hba = item, list(entries[item]["settings"]), entries[item]["hba_rules"] is not None
        else:
            raise InvalidValue("layers", item, [*entries] or "Layer objects (no layer is applied now)")
        keys.append(key)
        names += setting_names
        entry = entries.get(key)
        for name in setting_names:
            previous = entry["previous"].get(name) if entry else None
            if previous is None:
                new_settings.pop(name, None)
            else:
                new_settings[name] = previous
        if sets_hba:
            hba = (True, entry["hba_previous"] if entry else None)
    action = "restart" if any(c in _RESTART_CONTEXTS for c in _server_contexts(lab, names).values()) else "reload"
    result = _change(lab, keys, None, new_settings, hba, {}, action)
    if result.ok:
        _track_revert(lab, keys)
    return result


# --------------------------------------------------------------------------------------------------------
# Tracking what is applied (a small JSON file next to state.json)
# --------------------------------------------------------------------------------------------------------


def _track_path(lab: LabServer) -> Path:
    return lab.workspace.path / TRACK_FILE


def _read_entries(lab: LabServer) -> list[dict[str, Any]]:
    try:
        data = json.loads(_track_path(lab).read_text())
        entries = data.get("applied", []) if isinstance(data, dict) else []
        return [e for e in entries if isinstance(e, dict) and "key" in e]
    except (OSError, ValueError):
        return []


def _write_entries(lab: LabServer, entries: list[dict[str, Any]]) -> None:
    path = _track_path(lab)
    paths.replace_file(path, json.dumps({"applied": entries}, indent=2).encode())


def _is_live(lab: LabServer, entry: dict[str, Any]) -> bool:
    """Still in force: every setting it wrote is still there with that value, and its pg_hba rules too.
    Anything else (a reset_config, another layer writing the same setting) means it no longer applies."""
    current = lab.settings
    for name, value in entry["settings"].items():
        if current.get(name) != value:
            return False
    if entry.get("hba_rules") is not None:
        rules = lab.hba_rules or []
        if any(rule not in rules for rule in entry["hba_rules"]):
            return False
    return True


def _live_entries(lab: LabServer) -> list[dict[str, Any]]:
    return [e for e in _read_entries(lab) if _is_live(lab, e)]


def _track_apply(lab: LabServer, layers: Sequence[Layer], before: dict[str, str],
                 hba_before: list[str] | None) -> None:
    entries = _live_entries(lab)
    by_key = {e["key"]: e for e in entries}
    for layer in layers:
        old = by_key.get(layer.key)
        previous = {n: before.get(n) for n in layer.settings}
        if old is not None:  # re-applying a key: "before" should still mean before the first application
            previous.update({n: v for n, v in old["previous"].items() if n in previous})
        entry = {
            "key": layer.key, "title": layer.title,
            "settings": {n: lab.settings.get(n) for n in layer.settings},
            "previous": previous,
            "hba_rules": list(layer.hba_rules) if layer.hba_rules is not None else None,
            "hba_previous": (old["hba_previous"] if old is not None and old.get("hba_rules") is not None
                             else hba_before),
            "applied_at": time.time(),
        }
        entries = [e for e in entries if e["key"] != layer.key] + [entry]
        by_key[layer.key] = entry
    _write_entries(lab, entries)


def _track_revert(lab: LabServer, keys: Sequence[str]) -> None:
    _write_entries(lab, [e for e in _live_entries(lab) if e["key"] not in keys])


def applied(lab: LabServer) -> list[str]:
    """Keys of the layers in force now, in the order they were applied (checked against the files, so a
    ``reset_config`` elsewhere is noticed)."""
    return [e["key"] for e in _live_entries(lab)]


def server_file(lab: LabServer, name: str) -> bytes | None:
    """The bytes of ``tls/<name>`` as the server has it (None when there is no such file): what a lesson
    backs up before replacing a certificate, the way the guide's ``mv server.crt server_ant.crt`` does."""
    try:
        return lab.backend.read_file(f"tls/{name}")
    except (FileNotFoundError, OSError, LabkitError):
        return None


def restore_server_file(lab: LabServer, name: str, data: bytes | None) -> None:
    """Put ``tls/<name>`` back as :func:`server_file` returned it (None removes it); keys get mode 0600."""
    _restore_server_files(lab, {name: data})


def _restore_server_files(lab: LabServer, files: Mapping[str, bytes | None]) -> None:
    """:func:`restore_server_file` for several files: those to put back go in one call (one archive on Docker)."""
    lab.deliver_files({name: (data, _file_mode(name)) for name, data in files.items() if data is not None})
    for name in [name for name, data in files.items() if data is None]:
        lab.backend.remove_file(f"tls/{name}")


@contextmanager
def file_replaced(lab: LabServer, name: str, content: bytes | Path, mode: int) -> Iterator[ReloadResult]:
    """Replace ``tls/<name>`` (e.g. a key with the wrong mode), reload, and yield that reload's result; on
    leaving, the previous file is put back and the server reloaded again -- for lessons that show what a
    broken replacement does without leaving it behind."""
    previous = server_file(lab, name)
    lab.deliver(name, content, mode)
    try:
        yield lab.reload()
    finally:
        restore_server_file(lab, name, previous)
        lab.reload()


# --------------------------------------------------------------------------------------------------------
# A reload checked the way the guide checks it
# --------------------------------------------------------------------------------------------------------


@dataclass
class ReloadCheck(_Evidence):
    """A :class:`~labkit.server.ReloadResult` plus whether ``pg_conf_load_time()`` moved, with its log and
    file errors written so they read the same on every backend (data directory as ``$PGDATA``)."""

    evidence: ReloadResult
    conf_load_time_moved: bool
    data_dir: str = ""

    @property
    def ok(self) -> bool:
        return self.evidence.ok

    def setting_errors(self) -> pd.DataFrame:
        """``pg_file_settings`` rows with an error, the data directory written as ``$PGDATA``."""
        frame = self.file_errors.copy()
        if "sourcefile" in frame and self.data_dir:
            frame["sourcefile"] = [str(v).replace(self.data_dir, "$PGDATA") for v in frame["sourcefile"]]
        return frame

    def messages(self) -> pd.DataFrame:
        """The postmaster's lines after the SIGHUP as (level, message), without timestamp and pid."""
        return messages.log_messages(self.log, self.data_dir)


def checked_reload(lab: LabServer, timeout: float = 5.0) -> ReloadCheck:
    """:meth:`LabServer.reload` (which waits for the whole reload, even one that applies nothing), plus
    whether ``pg_conf_load_time()`` moved: it does not when postgresql.conf has an error that makes
    PostgreSQL apply *nothing* (an unknown parameter, a syntax error), which is part of the lesson."""
    before = lab.execute("SELECT pg_conf_load_time() AS t")[0]["t"]
    result = lab.reload(timeout)
    after = lab.execute("SELECT pg_conf_load_time() AS t")[0]["t"]
    return ReloadCheck(result, after != before, lab.show("data_directory"))


@dataclass
class RestartCheck(_Evidence):
    """A restart as a lesson checks it: did the server come back, and what did it log on the way."""

    evidence: ReloadResult
    running: bool
    error: LabkitError | None = None

    @property
    def ok(self) -> bool:
        return self.running and self.evidence.ok


def checked_restart(lab: LabServer, timeout: float = 60) -> RestartCheck:
    """Restart the lab and report instead of raising when it does not come back (a wrong key passphrase,
    a missing certificate): the log since the stop, both error views when it runs, whether it runs."""
    mark, started = lab.log_mark(), time.perf_counter()
    error: LabkitError | None = None
    try:
        lab.restart(timeout=timeout)
    except ServerStartError as exc:
        error = exc
    running = error is None
    files, hba = (lab.file_setting_errors(), lab.hba_rule_errors()) if running else (pd.DataFrame(), pd.DataFrame())
    return RestartCheck(ReloadResult(files, hba, lab.log_since(mark), time.perf_counter() - started), running, error)
