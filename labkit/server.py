"""One lab server, whatever runs it: the API every lesson and the CLI use.

``LabServer.up()`` starts (or finds again) the lab in a workspace; the methods then change its
configuration, reload it, run SQL and read its log. The backend (local binaries or Docker) only supplies a
few primitives (see :mod:`labkit.backends.base`), so notebooks never branch on it.

Configuration is written in two managed files so that a lesson can be undone exactly:
- ``postgresql.conf`` ends with labkit's base block (where to listen, logging, a bootstrap certificate)
  and ``include_if_exists = 'labkit.conf'``; lessons write only ``labkit.conf``.
- ``pg_hba.conf`` starts with the admin-channel line(s) that keep labkit in control, then the lesson's
  rules. PostgreSQL uses the first line that matches, so lesson rules never shadow the admin channel.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql as pgsql
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from . import binaries, i18n, lab_recovery, paths, quoting, server_lang as lang_support, validate
from .backends.base import Backend
from .backends.choose import choose_backend, default_image, make_backend, resolved_backend
from .bootstrap_cert import self_signed
from .errors import InvalidValue, LabkitError, PortInUse, ServerCommandError, ServerStartError
from .lab_writes import LabWrites
from .messages import FAILURE_MARKERS, SIGHUP
from .ports import DEFAULT_PORT, PORT_TRIES, bind_failure, choose_port, port_released
from .workspace import DEFAULT_MAX_CONNECTIONS, LabState, Workspace, registered_ports, registry_entry_remove

if TYPE_CHECKING:  # pandas costs 0.4 s to import: a labkit command that only starts or stops a lab needs none
    import pandas as pd

DEFAULT_HBA_RULES = ("host    all    all    0.0.0.0/0    scram-sha-256",)
LESSON_CONF = "labkit.conf"
Progress = Callable[[str], None]
_quiet: Progress = lambda _message: None  # noqa: E731 - the progress callback that says nothing


@dataclass
class ReloadResult:
    """What a reload did, as the guide asks you to check it: errors in both files, and the log after SIGHUP."""

    file_errors: pd.DataFrame
    hba_errors: pd.DataFrame
    log: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.file_errors.empty and self.hba_errors.empty and not any(m in self.log for m in FAILURE_MARKERS)


class LabServer:
    """A running (or stopped) lab server in a workspace."""

    def __init__(self, workspace: Workspace, state: LabState, backend: Backend) -> None:
        self.workspace = workspace
        self.state = state
        self.backend = backend
        self._admin: psycopg.Connection[Any] | None = None
        self._writes = LabWrites(backend)

    # -- construction --------------------------------------------------------------------------------
    @classmethod
    def up(cls, workspace: Path | str | None = None, *, backend: str = "auto", pg_version: object = 16,
           port: int | None = None, name: str = "lab", image: str | None = None,
           bin_dir: str | Path | None = None, progress: Progress | None = None,
           install_missing: bool = True, max_connections: int = DEFAULT_MAX_CONNECTIONS,
           server_lang: str = "en") -> LabServer:
        """Start the lab in ``workspace`` (reusing the one already there when it matches) and wait until a
        real connection succeeds. Every argument is checked before anything is created; ``server_lang`` is
        the language of the server's own messages (:mod:`labkit.server_lang`: ``es`` needs a build with
        Spanish messages and the es_ES.UTF-8 locale, else a clear error before the lab changes).

        The workspace is locked meanwhile, so two ``up`` of one workspace never race: the second reuses
        what the first started. A port is the lab's only once its server has bound it: when another process
        takes the chosen port first, the lab is created again on another free one (unless ``port`` was
        asked for)."""
        say = progress or _quiet
        pg_major = validate.pg_major(pg_version)
        validate.backend(backend)
        i18n.check_language(server_lang, name="server_lang")
        if port is not None:
            port = validate.port(port)
        if isinstance(max_connections, bool) or not isinstance(max_connections, int) \
                or not 10 <= max_connections <= 10000:
            raise InvalidValue("max_connections", max_connections, "an integer from 10 to 10000")
        ws = Workspace(paths.default_workspace() if workspace is None else workspace)
        with ws.locked():
            ws.ensure()
            existing = ws.load() or lab_recovery.find_server(ws, say)
            if existing is not None:
                reused = cls._reuse(ws, existing, resolved_backend(backend), pg_major, say)
                if reused is not None:
                    reused.set_server_lang(server_lang)
                    return reused
            asked = "local" if server_lang != "en" and backend == "auto" else backend  # only local builds have NLS
            kind, why = choose_backend(asked, pg_major, image, say)
            say(f"backend: {kind} ({why})")
            state = LabState(backend=kind, pg_major=pg_major, port=DEFAULT_PORT, name=name,
                             max_connections=max_connections, server_lang=server_lang)
            if kind == "local":
                state.bin_dir = str(cls._local_binaries(pg_major, bin_dir, install_missing, say).bin_dir)
            lang_support.check_available(server_lang, backend=kind, major=pg_major, bin_dir=state.bin_dir)
            if kind != "local":
                state.image = image or default_image(pg_major)
                from .backends.docker_backend import DockerBackend

                DockerBackend.ensure_image(state.image, say)
            lost: list[int] = []
            state.port_fixed = port is not None
            for attempt in range(1, PORT_TRIES + 1):
                state.port = choose_port(port, avoid=[*lost, *registered_ports(exclude=ws.path)])
                server = cls(ws, state, make_backend(state, ws))
                try:
                    server._create_and_start(say)
                    return server
                except PortInUse as exc:
                    if port is not None or attempt == PORT_TRIES:
                        raise PortInUse(f"{exc.message} (tried {attempt} port(s): "
                                        f"{', '.join(map(str, [*lost, state.port]))})",
                                        "another program took each port before the server could bind it; "
                                        "try again, or pass --port with a port you know is free") from None
                    say(f"port {state.port} was taken by another process before the server bound it; "
                        "trying another")
                    lost.append(state.port)
        raise AssertionError("unreachable")

    @classmethod
    def attach(cls, workspace: Path | str | None = None) -> LabServer:
        """The lab recorded in ``workspace`` (running or not), without starting anything. When state.json is
        missing or damaged, a server still running there is found from its processes (local) or its
        container (Docker) and the state file is written again."""
        ws = Workspace(paths.default_workspace() if workspace is None else workspace)
        state = ws.load()
        if state is None and ws.path.is_dir():
            with ws.locked():
                state = ws.load() or lab_recovery.find_server(ws, _quiet)
        if state is None:
            raise LabkitError(f"no lab in workspace {str(ws.path)!r}", "start one with `labkit up`")
        return cls(ws, state, make_backend(state, ws))

    @staticmethod
    def _local_binaries(major: int, bin_dir: str | Path | None, install_missing: bool,
                        say: Progress) -> binaries.Installation:
        try:
            return binaries.find(major, bin_dir)
        except LabkitError as exc:
            import shutil

            if bin_dir or not install_missing or not shutil.which("npm"):
                raise
            say(f"no local PostgreSQL {major} with OpenSSL found; installing it with npm ({exc.message.splitlines()[0]})")
            return binaries.install(major, say)

    @classmethod
    def _reuse(cls, ws: Workspace, state: LabState, backend: str, pg_major: int, say: Progress) -> LabServer | None:
        if (backend not in ("auto", state.backend)) or state.pg_major != pg_major:
            say(f"workspace holds a {state.backend} PostgreSQL {state.pg_major} lab; replacing it")
            cls(ws, state, make_backend(state, ws)).down()
            return None
        if why := lab_recovery.why_unusable(ws, state):  # before make_backend, which creates missing secrets
            say(f"{why}; removing it and creating a new lab")
            cls(ws, state, make_backend(state, ws)).down()
            return None
        server = cls(ws, state, make_backend(state, ws))
        if not server.backend.exists():
            say("the recorded lab has no server any more (killed or cleaned); creating a new one")
            ws.forget()
            return None
        if server.backend.is_running():
            try:
                server.wait_ready(timeout=10)
                say(f"reusing the running lab on port {state.port}")
                return server
            except ServerStartError:
                server.backend.stop()
        elif not port_released(state.port, within=3.0):
            say(f"port {state.port} was taken meanwhile; recreating the lab on another port")
            server.down()
            return None
        if not state.recovered:
            # A lesson may have left a broken labkit.conf or pg_hba.conf behind: write both from the recorded
            # state first, so a restart never fails on what the last lesson did.
            server.write_managed_files()
        say(f"restarting the stopped lab on port {state.port}")
        server.start()
        return server

    def set_server_lang(self, lang: str) -> None:
        """Make the server write its messages in ``lang`` from now on (kept in the lab's state, so
        :meth:`reset_config` keeps it); checked first (:func:`labkit.server_lang.check_available`)."""
        lang_support.check_available(lang, backend=self.state.backend, major=self.state.pg_major,
                                     bin_dir=self.state.bin_dir)
        if lang != self.state.server_lang:
            self.state.server_lang = lang
            self._write_settings(self.state.settings)
            if self.backend.is_running():
                self.reload()

    def write_managed_files(self) -> None:
        """Write labkit.conf and pg_hba.conf from the recorded state (works on a stopped lab)."""
        self._writes.write({LESSON_CONF: (self._lesson_conf_text().encode(), 0o600),
                            "pg_hba.conf": (self._hba_text().encode(), 0o600)})

    def files_written_together(self) -> AbstractContextManager[None]:
        """Settings, pg_hba rules and TLS files written inside go in one backend call as the block ends (Docker:
        one archive, not one per file; :class:`labkit.lab_writes.LabWrites`)."""
        return self._writes.together()

    def _create_and_start(self, say: Progress) -> None:
        cert, key = self_signed()
        files = {"tls/bootstrap.crt": (cert, 0o644), "tls/bootstrap.key": (key, 0o600),
                 LESSON_CONF: (self._lesson_conf_text().encode(), 0o600)}
        say(f"creating the {self.state.backend} server (PostgreSQL {self.state.pg_major}, port {self.state.port})")
        self.workspace.save(self.state)
        try:
            self.backend.create(self._base_conf(), self._hba_text(), files)
        except BaseException:
            # Never remove what another server uses (create refuses a data directory or container in use).
            if not self.backend.is_running():
                self.backend.destroy()
            self.workspace.forget()
            raise
        try:
            self.start()
            password = self.workspace.secret("postgres-password")
            self.execute(pgsql.SQL("ALTER ROLE postgres PASSWORD {}").format(pgsql.Literal(password)))
            self.execute("CREATE EXTENSION IF NOT EXISTS sslinfo")
            self.workspace.write_passfile(self.state.port, "postgres", password)
        except BaseException:
            self.close()
            try:
                self.backend.destroy()
            finally:
                self.workspace.forget()
            raise
        say(f"ready: {self.dsn()}")

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self, timeout: float = 60, progress: Progress | None = None) -> LabServer:
        """Start the server and wait until it accepts a query; a server that does not become ready is
        stopped again, so a failed start never leaves a process behind.

        A restart can lose the lab's port to another program while the server is down. A local lab whose
        port was not asked for then moves to another free port (a Docker lab is re-created on its data
        volume to publish it; the new port is recorded in the state file; the passfile
        covers every port), so lessons that restart keep working on a busy machine."""
        say = progress or _quiet
        lost: list[int] = []
        while True:
            try:
                return self._start_once(timeout)
            except PortInUse:
                if self.state.port_fixed or len(lost) + 1 >= PORT_TRIES:
                    raise
                lost.append(self.state.port)
                new_port = choose_port(None, avoid=[*lost, *registered_ports(exclude=self.workspace.path)])
                if not self.backend.move_port(new_port):
                    raise
                say(f"port {lost[-1]} was taken while the server was down; it now listens on {new_port}")
                self.state.port = new_port
                self.workspace.save(self.state)

    def _start_once(self, timeout: float) -> LabServer:
        mark = self.backend.log_size()
        was_running = self.backend.is_running()
        self.backend.start()
        try:
            self.wait_ready(timeout, log_mark=mark)
        except BaseException:
            if not was_running:
                try:
                    self.backend.stop()
                except LabkitError:
                    pass
            raise
        return self

    def stop(self) -> None:
        self.close()
        self.backend.stop()

    def restart(self, timeout: float = 60) -> LabServer:
        self.stop()
        return self.start(timeout)

    def down(self) -> None:
        """Stop the server and remove it (processes, container, data directory); keep PKI and secrets."""
        with self.workspace.locked():
            self.close()
            self.backend.destroy()
            self.workspace.forget()
            registry_entry_remove(self.workspace.path)

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    def __enter__(self) -> LabServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def wait_ready(self, timeout: float = 60, *, log_mark: int | None = None) -> None:
        """Return once a real connection over the admin channel runs a query; never a fixed sleep. A server
        that exits because another process holds its port raises :class:`PortInUse` at once."""
        deadline = time.monotonic() + timeout
        delay, last_error = 0.01, "no attempt made"
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(**self.backend.admin_conninfo()) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.Error as exc:
                last_error = str(exc).strip()
                if "password authentication failed" in last_error:  # the server's answer; waiting never cures it
                    raise ServerStartError(
                        f"the {self.state.backend} server on port {self.state.port} refused labkit's admin "
                        f"password ({last_error})", "its data was created with other passwords than those in "
                        f"{str(self.workspace.secrets_dir)!r}; `labkit reset` gives a fresh lab") from None
            if log_mark is not None and (cause := bind_failure(self.backend.log_since(log_mark))):
                raise PortInUse(f"port {self.state.port} on 127.0.0.1 was taken before the server could bind it "
                                f"(server log: {cause})",
                                "another program or lab uses it; omit --port to let labkit choose a free one")
            if not self.backend.is_running() and time.monotonic() > deadline - timeout + 2:
                break
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)
        tail = "\n    ".join(self.backend.log_since(max(0, self.backend.log_size() - 3000)).splitlines()[-15:])
        raise ServerStartError(
            f"the {self.state.backend} server on port {self.state.port} did not accept connections "
            f"(last error: {last_error}); last log lines:\n    {tail}",
            "fix the setting the log names, or `labkit reset` for a fresh lab",
        )

    # -- SQL -----------------------------------------------------------------------------------------
    def admin(self) -> psycopg.Connection[Any]:
        """The admin connection (autocommit), reopened if it broke."""
        if self._admin is None or self._admin.closed or self._admin.broken:
            self._admin = psycopg.connect(**self.backend.admin_conninfo(), autocommit=True, row_factory=dict_row)
        return self._admin

    def execute(self, query: Any, params: Any = None, *, dbname: str | None = None) -> list[dict[str, Any]]:
        """Run one statement over the admin channel; rows as dicts (empty for commands). ``dbname``: run it
        in that database instead (a connection of its own, closed afterwards), e.g. to install an extension
        or create a table where a lesson's role connects."""
        if dbname is not None:
            if not isinstance(dbname, str) or not dbname or "\x00" in dbname:
                raise InvalidValue("dbname", dbname, "the name of an existing database", "e.g. dbname='postgres'")
            info = {**self.backend.admin_conninfo(), "dbname": dbname}
            with psycopg.connect(**info, autocommit=True, row_factory=dict_row) as conn:
                cur = conn.execute(query, params)
                return cur.fetchall() if cur.description else []
        try:
            cur = self.admin().execute(query, params)
        except psycopg.OperationalError:
            self.close()
            cur = self.admin().execute(query, params)
        return cur.fetchall() if cur.description else []

    def query(self, query: Any, params: Any = None, *, dbname: str | None = None) -> pd.DataFrame:
        """Run a query over the admin channel (or in ``dbname``) and return a DataFrame."""
        import pandas as pd  # here, not at the top: see TYPE_CHECKING above
        rows = self.execute(query, params, dbname=dbname)
        return pd.DataFrame(rows)

    # -- configuration -------------------------------------------------------------------------------
    def _base_conf(self) -> str:
        settings = {
            **self.backend.listen_settings(),
            "lc_messages": "'C'",
            "log_line_prefix": "'%m [%p] %q%u@%d '",
            "log_connections": "on", "password_encryption": "'scram-sha-256'",
            "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",  # a teaching server
            "shared_buffers": "'32MB'",
            "max_connections": str(int(self.state.max_connections)),
            "ssl": "on", "ssl_cert_file": "'tls/bootstrap.crt'", "ssl_key_file": "'tls/bootstrap.key'",
        }
        lines = ["# ---- labkit base settings (managed by labkit; lessons write labkit.conf) ----"]
        lines += [f"{quoting.conf_name(k)} = {quoting.check_formatted_value(k, v)}" for k, v in settings.items()]
        lines.append(f"include_if_exists = {quoting.conf_value(LESSON_CONF)}")
        return "\n".join(lines) + "\n"

    def _lesson_conf_text(self, trial: Mapping[str, object] | None = None) -> str:
        lines = ["# Lesson settings written by labkit. Later lines win over postgresql.conf."]
        if self.state.server_lang != "en":  # the lab's message language, kept by reset_config
            lines.append(quoting.conf_line("lc_messages", lang_support.lc_messages(self.state.server_lang)))
        lines += [f"{quoting.conf_name(name)} = {quoting.check_formatted_value(name, value)}"
                  for name, value in self.state.settings.items()]
        if trial:
            lines.append("# -- trial lines (not recorded; set_settings or reset_config removes them) --")
            lines += [quoting.conf_line(name, value) for name, value in trial.items()]
        return "\n".join(lines) + "\n"

    def _hba_text(self, rules: Sequence[str] | None = None) -> str:
        if rules is None:
            rules = self.state.hba_rules if self.state.hba_rules is not None else list(DEFAULT_HBA_RULES)
        return "\n".join([
            "# pg_hba.conf written by labkit. PostgreSQL uses the FIRST line that matches.",
            "# -- admin channel: kept first so no lesson can lock labkit out --",
            *self.backend.admin_hba_lines(),
            "# -- lesson rules --",
            "# TYPE  DATABASE  USER  ADDRESS  METHOD [OPTIONS]",
            *(quoting.hba_line(rule) for rule in rules),
        ]) + "\n"

    @property
    def settings(self) -> dict[str, str]:
        """The lesson settings currently written to labkit.conf (already formatted)."""
        return dict(self.state.settings)

    def set_settings(self, updates: Mapping[str, object], *, replace: bool = False) -> None:
        """Write lesson settings (``None`` removes one). Takes effect at the next reload or restart.

        Every name and value is checked and quoted (:mod:`labkit.quoting`) before anything is written, so a
        value can never add a line to the file."""
        current = {} if replace else dict(self.state.settings)
        for name, value in updates.items():
            quoting.conf_name(name)
            if value is None:
                current.pop(name, None)
            else:
                current[name] = quoting.conf_value(value, f"value of {name}")
        self._write_settings(current)

    def _write_settings(self, formatted: Mapping[str, str]) -> None:
        """Record then write labkit.conf; the state file is saved only once the text is known to be good."""
        previous = self.state.settings
        self.state.settings = dict(formatted)
        try:
            text = self._lesson_conf_text()
        except BaseException:
            self.state.settings = previous
            raise
        self._writes.write({LESSON_CONF: (text.encode(), 0o600)})
        self.workspace.save(self.state)

    def restore_settings(self, formatted: Mapping[str, str]) -> None:
        """Write labkit.conf from values as :attr:`settings` returned them (already formatted), e.g. to put
        back a snapshot; :meth:`set_settings` would quote them a second time. Each value must still be one
        well-formed token."""
        for name, value in formatted.items():
            quoting.conf_name(name)
            quoting.check_formatted_value(name, value)
        self._write_settings(formatted)

    def trial_settings(self, updates: Mapping[str, object]) -> None:
        """Write labkit.conf as recorded plus these lines appended, without recording them: for lessons that
        show what a typo (an unknown name, a bad value) does. Names and values are quoted like
        :meth:`set_settings`; :meth:`set_settings` or :meth:`reset_config` writes the recorded file back."""
        self._writes.write({LESSON_CONF: (self._lesson_conf_text(trial=updates).encode(), 0o600)})

    @property
    def hba_rules(self) -> list[str] | None:
        """The lesson part of pg_hba.conf as last written (``None``: the default rules)."""
        return list(self.state.hba_rules) if self.state.hba_rules is not None else None

    def set_hba_rules(self, rules: Iterable[str] | None) -> None:
        """Replace the lesson part of pg_hba.conf (``None`` = the default scram rule). Each rule must be one
        pg_hba line (:func:`labkit.quoting.hba_line`); all are checked before anything is written."""
        checked = [quoting.hba_line(rule) for rule in rules] if rules is not None else None
        text = self._hba_text(checked if checked is not None else list(DEFAULT_HBA_RULES))
        self.state.hba_rules = checked
        self._writes.write({"pg_hba.conf": (text.encode(), 0o600)})
        self.workspace.save(self.state)

    def trial_hba_rules(self, rules: Sequence[str]) -> None:
        """Write these lesson rules into pg_hba.conf without recording them (for lessons that show a broken
        line); the admin lines stay first and every rule is still exactly one line."""
        self._writes.write({"pg_hba.conf": (self._hba_text(list(rules)).encode(), 0o600)})

    def hba_text(self) -> str:
        self._writes.flush()
        return self.backend.read_file("pg_hba.conf").decode()

    def lesson_conf_text(self) -> str:
        self._writes.flush()
        return self.backend.read_file(LESSON_CONF).decode()

    def deliver(self, name: str, content: bytes | Path, mode: int = 0o600) -> str:
        """Put a certificate, key or CRL where the server can read it (``tls/<name>``, owned by the server's
        account, ``mode``) and return its path as the server sees it."""
        return self.deliver_files({name: (content, mode)})[name]

    def deliver_files(self, files: Mapping[str, tuple[bytes | Path, int]]) -> dict[str, str]:
        """:meth:`deliver` for several files (name -> content, mode) in one backend call (Docker: one archive)."""
        self._writes.write({f"tls/{name}": (content.read_bytes() if isinstance(content, Path) else content, mode)
                            for name, (content, mode) in files.items()})
        return {name: self.backend.server_path(f"tls/{name}") for name in files}

    def write_ident_file(self, text: str) -> None:
        """pg_ident.conf as given (:func:`labkit.hba.set_ident_maps` has quoted every line), in turn with the
        lab's other writes: inside :meth:`files_written_together` a direct write would be overwritten."""
        self._writes.write({"pg_ident.conf": (text.encode(), 0o600)})

    def reset_config(self) -> None:
        """Back to the lab's starting point: no lesson settings, default pg_hba rules, no pg_ident.conf maps
        (not reloaded), so no lesson inherits what another configured."""
        self.state.settings, self.state.hba_rules = {}, None
        self._writes.write({LESSON_CONF: (self._lesson_conf_text().encode(), 0o600),  # one call on Docker
                            "pg_hba.conf": (self._hba_text().encode(), 0o600),
                            "pg_ident.conf": (quoting.IDENT_HEADER.encode(), 0o600)})
        self.workspace.save(self.state)

    def reload(self, timeout: float = 10) -> ReloadResult:
        """``pg_reload_conf()``, wait until the server has re-read its files; both error views and the log.

        Two steps prove the reload is complete: the admin session's ``pg_conf_load_time()`` moves (the
        postmaster has re-read postgresql.conf and signalled its children), then one new connection
        succeeds — the postmaster forks it only after it has also reloaded pg_hba.conf and the SSL files,
        whose errors ("SSL configuration was not reloaded", "bad decrypt") are logged in that second phase,
        before the probe's own lines (awaited, then left out)."""
        mark = self.backend.log_size()
        started = time.perf_counter()
        before = self.execute("SELECT pg_conf_load_time() AS t")[0]["t"]
        self.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + timeout
        # The postmaster has started the reload once our session's load time moves, or -- when
        # postgresql.conf has an error that makes it apply nothing, so the load time stays put -- once it has
        # logged "received SIGHUP". Either way it is then busy reloading and forks no new backend until done.
        while (self.execute("SELECT pg_conf_load_time() AS t")[0]["t"] == before
               and not SIGHUP.search(self.backend.log_since(mark))):
            if time.monotonic() > deadline:
                raise ServerCommandError(f"the server did not reload within {timeout:.0f} s",
                                         "see the server log (LabServer.log_since)")
            time.sleep(0.005)
        with psycopg.connect(**self.backend.admin_conninfo()) as probe:
            probe_tag = f"[{probe.info.backend_pid}]"
            probe_logged = str(probe.execute("SHOW log_connections").fetchone()[0]) not in ("off", "")
        log = self.backend.log_since(mark)  # docker's pipe lags: the reload's errors precede the probe's lines
        while ("SIGHUP" not in log or (probe_logged and probe_tag not in log)) and time.monotonic() < deadline:
            time.sleep(0.01)
            log = self.backend.log_since(mark)
        log = "".join(line for line in log.splitlines(keepends=True) if probe_tag not in line)
        seconds = time.perf_counter() - started
        return ReloadResult(self.file_setting_errors(), self.hba_rule_errors(), log, seconds)

    def file_setting_errors(self) -> pd.DataFrame:
        return self.query("SELECT sourcefile, sourceline, name, setting, applied, error "
                          "FROM pg_file_settings WHERE error IS NOT NULL ORDER BY seqno")

    def hba_rule_errors(self) -> pd.DataFrame:
        # A line PostgreSQL cannot parse shows up either with an error text or (e.g. clientcert=1 on 15/16,
        # measured) as a row whose fields are all NULL and whose error is NULL too: report both.
        return self.query("SELECT line_number, type, database, user_name, address, auth_method, options, "
                          "coalesce(error, 'line not usable (see the server log)') AS error "
                          "FROM pg_hba_file_rules WHERE error IS NOT NULL OR type IS NULL ORDER BY line_number")

    def show(self, name: str) -> str:
        return str(self.execute(pgsql.SQL("SHOW {}").format(pgsql.Identifier(name)))[0][name])

    # -- log -----------------------------------------------------------------------------------------
    def log_mark(self) -> int:
        return self.backend.log_size()

    def log_since(self, mark: int) -> str:
        return self.backend.log_since(mark)

    # -- connecting as a client ----------------------------------------------------------------------
    @property
    def host(self) -> str:
        return self.backend.host

    @property
    def port(self) -> int:
        return self.state.port

    def conninfo(self, **overrides: Any) -> dict[str, Any]:
        """libpq keywords for a TCP connection to the lab as ``postgres`` (password from the passfile)."""
        params: dict[str, Any] = {"host": self.host, "port": self.port, "user": "postgres", "dbname": "postgres",
                                  "passfile": str(self.workspace.passfile), "connect_timeout": 5}
        params.update({k: v for k, v in overrides.items() if v is not None})
        return params

    def dsn(self, **overrides: Any) -> str:
        """A libpq connection string; append ``sslmode=...`` to it as you like."""
        params = self.conninfo(**overrides)
        params.pop("connect_timeout", None)
        return make_conninfo(**{k: str(v) for k, v in params.items()})

    # -- facts ---------------------------------------------------------------------------------------
    def facts(self) -> dict[str, Any]:
        """Server version, SSL library (and its OpenSSL version when it can be read), where things are."""
        row = self.execute("SELECT current_setting('server_version') AS server_version, "
                           "current_setting('server_version_num')::int AS server_version_num, "
                           "current_setting('ssl_library') AS ssl_library, "
                           "current_setting('data_directory') AS data_dir, current_setting('ssl') AS ssl")[0]
        banner = self.backend.server_openssl_banner()
        return {"backend": self.state.backend, **row, "server_openssl": binaries.version_of_banner(banner),
                "server_openssl_banner": banner,
                "host": self.host, "port": self.port, "workspace": str(self.workspace.path)}

    def status(self) -> dict[str, Any]:
        """What `labkit status --json` prints."""
        running = self.backend.is_running()
        info: dict[str, Any] = {"backend": self.state.backend, "pg_major": self.state.pg_major,
                                "host": self.host, "port": self.port, "running": running,
                                "workspace": str(self.workspace.path), "dsn": self.dsn(),
                                "server_version": None}
        if running:
            try:
                info["server_version"] = self.show("server_version")
            except psycopg.Error:
                info["running"] = False
        info.update({f"backend_{k}": v for k, v in self.backend.describe().items()})
        return info
