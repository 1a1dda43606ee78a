"""The `local` backend: initdb, pg_ctl and postgres from a local installation.

Each lab gets its own data directory, Unix-socket directory and log file inside its workspace. When labkit
runs as root the server runs as the unprivileged account ``labkit`` (created on first use), because
PostgreSQL refuses to run as root. A fresh data directory is a copy of an initdb'd template kept in
labkit's cache: copying is several times faster than running initdb for every lab.
"""
from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path
from collections.abc import Sequence
from typing import Any

from .. import paths, quoting
from ..errors import InvalidValue, LabkitError, ServerCommandError, ServerStartError, WorkspaceError
from .base import Backend, ServerSpec

SERVER_ACCOUNT = "labkit"
BASE_MARKER = "# ---- labkit base settings"  # the first line of the block LabServer appends to postgresql.conf
_TIMEOUT = 60
INITDB_OPTIONS: tuple[str, ...] = ("-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync",
                                   "--wal-segsize=1")


def postmaster_facts(data_dir: Path) -> dict[str, Any]:
    """What ``postmaster.pid`` records (pid, port, socket folder, listen address), or {} without one.

    Line layout (PostgreSQL's ``pidfile.h``): pid, data directory, start time, port, socket directory,
    listen address, shared memory key, status."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().split("\n")
        facts: dict[str, Any] = {"pid": int(lines[0])}
    except (OSError, ValueError, IndexError):
        return {}
    with contextlib.suppress(ValueError, IndexError):
        facts["port"] = int(lines[3])
    with contextlib.suppress(IndexError):
        facts["socket_dir"] = lines[4]
        facts["listen"] = lines[5].strip()
    return facts


def _is_postmaster_of(pid: int, data_dir: Path) -> bool:
    """Whether ``pid`` is a live (non-zombie) postgres process working in ``data_dir``."""
    proc = Path(f"/proc/{pid}")
    try:
        if (proc / "stat").read_text().split(") ", 1)[1][0] == "Z":
            return False
        if b"postgres" not in (proc / "cmdline").read_bytes():
            return False
        return os.readlink(proc / "cwd") == str(data_dir.resolve())
    except (OSError, IndexError):
        return False


def running_bin_dir(data_dir: Path) -> str | None:
    """The bin folder of the postmaster running on ``data_dir`` (from its executable), if one runs."""
    pid = postmaster_facts(data_dir).get("pid")
    if pid is None or not _is_postmaster_of(pid, data_dir):
        return None
    try:
        exe = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except OSError:
        return None
    return str(Path(exe).parent)


def find_running(workspace: Path) -> dict[str, Any] | None:
    """A local lab server running in ``workspace`` (port, bin_dir, pg_major), found from its processes and
    ``postmaster.pid`` alone: used when state.json is missing or damaged."""
    data_dir = workspace / "server" / "pgdata"
    facts = postmaster_facts(data_dir)
    if "pid" not in facts or "port" not in facts or not _is_postmaster_of(facts["pid"], data_dir):
        return None
    try:
        major = int((data_dir / "PG_VERSION").read_text().strip())
    except (OSError, ValueError):
        return None
    return {"port": facts["port"], "bin_dir": running_bin_dir(data_dir), "pg_major": major}


def server_account() -> pwd.struct_passwd:
    """The account the server runs as: ``labkit`` when we are root (created if missing), else ourselves."""
    if not paths.running_as_root():
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam(SERVER_ACCOUNT)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    try:
        subprocess.run(
            [useradd, "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
             SERVER_ACCOUNT],
            check=True, capture_output=True, text=True, timeout=_TIMEOUT,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise WorkspaceError(
            f"could not create the unprivileged account {SERVER_ACCOUNT!r} that runs PostgreSQL: {exc}",
            f"create it yourself (useradd --system {SERVER_ACCOUNT}) or run labkit as a normal user",
        ) from exc
    return pwd.getpwnam(SERVER_ACCOUNT)


def _check_reachable(path: Path, account: pwd.struct_passwd) -> None:
    """Fail early, naming the folder, if the server account cannot traverse to ``path``."""
    if account.pw_uid == os.geteuid():
        return
    for parent in [path, *path.parents]:
        if not parent.exists():
            continue
        mode = parent.stat().st_mode
        owner = parent.stat().st_uid
        if owner != account.pw_uid and not mode & 0o001:
            raise WorkspaceError(
                f"the server account {account.pw_name!r} cannot reach {path} because {parent} is not searchable "
                "by others",
                "choose a workspace outside /root (the default when root is /var/lib/labkit/labs)",
            )


class LocalBackend(Backend):
    """A PostgreSQL server run from local binaries."""

    kind = "local"

    def __init__(self, spec: ServerSpec) -> None:
        super().__init__(spec)
        self.server_dir = spec.workspace / "server"
        self.data_dir = self.server_dir / "pgdata"
        self.log_file = self.server_dir / "postgres.log"
        # Without a recorded bin_dir (a damaged state file) the running server still tells where it came from.
        bin_dir = spec.bin_dir or running_bin_dir(self.data_dir)
        self.bin_dir = Path(bin_dir) if bin_dir else None
        if self.bin_dir is not None:
            quoting.double_quotable_path(self.bin_dir, "bin_dir")
        self.account = server_account()
        self.socket_dir = self._socket_dir()

    def _binary(self, name: str) -> Path:
        """A program of the installation; a clear error when it is gone (the server can still be stopped)."""
        if self.bin_dir is None or not (self.bin_dir / name).exists():
            raise ServerStartError(f"the PostgreSQL program {name!r} is not in {str(self.bin_dir)!r} any more",
                                   "install it again (labkit postgres install), or `labkit reset` for a new lab")
        return self.bin_dir / name

    # -- helpers -------------------------------------------------------------------------------------
    def _socket_dir(self) -> Path:
        """Inside the workspace unless the socket path would pass the 107-byte limit of Unix sockets; then a
        private folder in /tmp named after the workspace (see :meth:`_make_socket_dir`)."""
        inside = self.server_dir / "run"
        if len(str(inside / f".s.PGSQL.{self.spec.port}")) < 100:
            return inside
        return Path("/tmp") / f"labkit-{os.geteuid()}-{paths.short_hash(str(self.spec.workspace))}"

    def _make_socket_dir(self) -> None:
        """Create the socket folder 0700 for the server account without following a link: in /tmp another
        local user may have planted a link or a folder of their own under that name, which is refused."""
        try:
            os.mkdir(self.socket_dir, 0o700)
        except FileExistsError:
            pass
        info = os.lstat(self.socket_dir)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid not in (os.geteuid(), self.account.pw_uid):
            raise WorkspaceError(f"{str(self.socket_dir)!r} exists and is not a folder of labkit's own "
                                 "(a link, a file, or another user's)",
                                 "remove it, or use a workspace with a shorter path")
        if self.account.pw_uid != os.geteuid():
            os.chown(self.socket_dir, self.account.pw_uid, self.account.pw_gid, follow_symlinks=False)
        os.chmod(self.socket_dir, 0o700)  # checked above to be a real folder of ours; /tmp is sticky

    def _run_as_server(self, argv: list[str], timeout: float = _TIMEOUT) -> subprocess.CompletedProcess[str]:
        # C everywhere except the character set: UTF-8, so that a server logging in Spanish (lc_messages,
        # labkit.server_lang) writes "conexión", not the ASCII transliteration "conexi?n" (measured on 15).
        env = {"PATH": f"{self.bin_dir}:/usr/bin:/bin", "LANG": "C", "LC_CTYPE": "C.UTF-8", "TZ": "UTC"}
        kwargs: dict[str, Any] = {}
        if self.account.pw_uid != os.geteuid():
            kwargs = {"user": self.account.pw_uid, "group": self.account.pw_gid, "extra_groups": []}
        try:
            return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, cwd="/",
                                  check=False, **kwargs)
        except subprocess.TimeoutExpired as exc:
            raise ServerStartError(f"{Path(argv[0]).name} did not finish within {timeout:.0f} s",
                                   f"see {self.log_file}") from exc

    def _owner(self) -> tuple[int, int] | None:
        """(uid, gid) of the server account when it is not us (we are root), else None: nothing to change."""
        return None if self.account.pw_uid == os.geteuid() else (self.account.pw_uid, self.account.pw_gid)

    def _own(self, path: Path, mode: int) -> None:
        owner = self._owner()
        if owner is not None:
            os.chown(path, *owner)
        path.chmod(mode)

    def _template(self) -> Path:
        """An initdb'd data directory to copy, one per installation, account and initdb options, made on
        first use. WAL segments of 1 MB instead of 16 (``--wal-segsize=1``) make the template 24 MB instead
        of 39: copying it is most of a lab's start, and a teaching server never fills a segment."""
        options = INITDB_OPTIONS
        key = paths.short_hash(f"{self._binary('initdb').parent.resolve()}:{self.account.pw_uid}:"
                               f"{' '.join(options)}", 12)
        template = paths.cache_dir() / "templates" / key
        if (template / "PG_VERSION").exists():
            return template
        template.parent.mkdir(parents=True, exist_ok=True)
        if paths.running_as_root():
            for d in (paths.cache_dir(), template.parent):
                d.chmod(0o755)
        staging = template.with_name(template.name + f".tmp{os.getpid()}.{threading.get_ident()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700)
        self._own(staging, 0o700)
        done = self._run_as_server([str(self._binary("initdb")), "-D", str(staging), *options], timeout=120)
        if done.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise ServerStartError(f"initdb failed: {done.stderr.strip()[-600:]}",
                                   f"check that {self.bin_dir} holds a complete PostgreSQL installation")
        try:
            staging.rename(template)
        except OSError:  # another process made it first
            shutil.rmtree(staging, ignore_errors=True)
        return template

    # -- lifecycle -----------------------------------------------------------------------------------
    def create(self, base_conf: str, hba: str, files: dict[str, tuple[bytes, int]]) -> None:
        _check_reachable(self.spec.workspace, self.account)
        if self._live_postmaster() is not None or self._processes_using_data_dir():
            raise ServerStartError(f"a PostgreSQL server is running on {self.data_dir}; labkit will not replace "
                                   "a data directory in use",
                                   "stop it first (labkit down --workspace ...), then start again")
        template = self._template()
        self.server_dir.mkdir(parents=True, exist_ok=True)
        self._own(self.server_dir, 0o700)
        shutil.rmtree(self.data_dir, ignore_errors=True)
        done = subprocess.run(["cp", "-a", "--", str(template), str(self.data_dir)], capture_output=True,
                              text=True, timeout=_TIMEOUT, check=False)
        if done.returncode != 0:
            raise WorkspaceError(f"could not copy the data directory template: {done.stderr.strip()}",
                                 f"check free space and permissions in {self.server_dir}")
        self._make_socket_dir()
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as handle:
            handle.write("\n" + base_conf)
        self.write_file("pg_hba.conf", hba.encode(), 0o600)
        for relative, (content, mode) in files.items():
            self.write_file(relative, content, mode)
        self.log_file.touch()
        self._own(self.log_file, 0o640)

    def exists(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def _processes_using_data_dir(self) -> list[int]:
        """Live (non-zombie) processes whose working directory is the data directory: every PostgreSQL
        process chdirs there, so this finds the children a killed postmaster left behind."""
        target = str(self.data_dir.resolve())
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.readlink(entry / "cwd") == target and (entry / "stat").read_text().split(") ", 1)[1][0] != "Z":
                    found.append(int(entry.name))
            except (OSError, IndexError):
                continue
        return found

    def _clear_stale_server(self, timeout: float = 15) -> None:
        """After a crash (the postmaster killed with its kernel), wait until its orphaned children have gone,
        then remove the lock files it left (data directory and socket): PostgreSQL would otherwise refuse to start while the dead
        postmaster is still a zombie, or while its children still hold the old shared memory."""
        if self._postmaster_pid() is None:
            return
        deadline = time.monotonic() + timeout
        while (left := self._processes_using_data_dir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        if left:
            raise ServerStartError(f"processes {left} of a crashed server still use {self.data_dir}",
                                   "wait for them to exit, or stop them, then start again")
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        (self.socket_dir / f".s.PGSQL.{self.spec.port}.lock").unlink(missing_ok=True)

    def start(self) -> None:
        if self.is_running():
            return
        if BASE_MARKER not in (self.data_dir / "postgresql.conf").read_text(errors="replace"):
            raise ServerStartError(f"{self.data_dir} has no labkit configuration block, so it would start with "
                                   "PostgreSQL's defaults (port 5432, sockets in /tmp)",
                                   "labkit reset gives a fresh lab in this workspace")
        self._clear_stale_server()
        self._make_socket_dir()
        done = self._run_as_server([str(self._binary("pg_ctl")), "start", "-D", str(self.data_dir),
                                    "-l", str(self.log_file), "-W", "-s"])
        if done.returncode != 0:
            raise ServerStartError(f"pg_ctl start failed: {(done.stderr or done.stdout).strip()[-600:]}",
                                   f"see {self.log_file}")

    def _postmaster_pid(self) -> int | None:
        return postmaster_facts(self.data_dir).get("pid")

    def _live_postmaster(self) -> int | None:
        """The pid in postmaster.pid when that process is alive, is a postgres, and works in this data
        directory: the truth about whether this lab runs, whatever state.json says."""
        pid = self._postmaster_pid()
        return pid if pid is not None and _is_postmaster_of(pid, self.data_dir) else None

    def is_running(self) -> bool:
        return self._live_postmaster() is not None

    def stop(self) -> None:
        pid = self._live_postmaster()
        if pid is None:
            return
        pg_ctl = self.bin_dir / "pg_ctl" if self.bin_dir is not None else None
        if pg_ctl is not None and pg_ctl.exists():
            done = self._run_as_server([str(pg_ctl), "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t",
                                        "30", "-s"], timeout=45)
            if done.returncode == 0 or not self.is_running():
                return
        # pg_ctl is gone (or failed): the same fast shutdown by signal, then an immediate one.
        for sig, wait in ((signal.SIGINT, 30.0), (signal.SIGQUIT, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while _is_postmaster_of(pid, self.data_dir) and time.monotonic() < deadline:
                time.sleep(0.05)
            if not _is_postmaster_of(pid, self.data_dir):
                return
        raise ServerCommandError(f"the server (pid {pid}) on {self.data_dir} did not stop",
                                 f"stop it yourself: kill -QUIT {pid}")

    def destroy(self) -> None:
        self.stop()
        if self._processes_using_data_dir():
            self._clear_stale_server()  # waits for orphaned children before anything is deleted
        shutil.rmtree(self.server_dir, ignore_errors=True)
        if not str(self.socket_dir).startswith(str(self.server_dir)):
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    # -- files ---------------------------------------------------------------------------------------
    def _inside(self, relative: str) -> Path:
        target = (self.data_dir / relative).resolve()
        if not str(target).startswith(str(self.data_dir.resolve()) + os.sep):
            raise LabkitError(f"refusing to write outside the data directory: {relative!r}", "use a relative path")
        return target

    def server_path(self, relative: str) -> str:
        return str(self.data_dir / relative)

    def write_file(self, relative: str, content: bytes, mode: int = 0o600) -> None:
        target = self._inside(relative)
        for parent in reversed(target.relative_to(self.data_dir.resolve()).parents):
            folder = self.data_dir / parent
            if not folder.exists():
                folder.mkdir(exist_ok=True)  # another process may make it at the same moment
                self._own(folder, 0o700)
        paths.replace_file(target, content, mode, owner=self._owner())

    def read_file(self, relative: str) -> bytes:
        return self._inside(relative).read_bytes()

    def remove_file(self, relative: str) -> None:
        self._inside(relative).unlink(missing_ok=True)

    # -- log -----------------------------------------------------------------------------------------
    def log_size(self) -> int:
        try:
            return self.log_file.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, mark: int) -> str:
        try:
            with self.log_file.open("rb") as handle:
                handle.seek(mark)
                return handle.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    # -- connections ---------------------------------------------------------------------------------
    def admin_conninfo(self) -> dict[str, Any]:
        return {"host": str(self.socket_dir), "port": self.spec.port, "user": "postgres", "dbname": "postgres",
                "connect_timeout": 3}

    def admin_hba_lines(self) -> list[str]:
        return ["local   all   all   trust"]

    def server_openssl_banner(self) -> str | None:
        from ..binaries import _linked_libcrypto, openssl_banner_in

        if self.bin_dir is None or not (self.bin_dir / "postgres").exists():
            return None
        libcrypto = _linked_libcrypto(self.bin_dir / "postgres")
        return openssl_banner_in(libcrypto) if libcrypto else None

    def move_port(self, port: int) -> bool:
        """Rewrite the ``port`` line of labkit's block in postgresql.conf (the server is stopped)."""
        conf = self.data_dir / "postgresql.conf"
        head, marker, block = conf.read_text().partition(BASE_MARKER)
        if not marker:
            return False
        lines = [f"port = {int(port)}" if line.startswith("port = ") else line for line in block.split("\n")]
        paths.replace_file(conf, (head + marker + "\n".join(lines)).encode(), 0o600, owner=self._owner())
        self.spec.port = int(port)
        self.socket_dir = self._socket_dir()
        return True

    def listen_settings(self) -> dict[str, str]:
        return {"listen_addresses": quoting.conf_value("127.0.0.1"), "port": str(self.spec.port),
                "unix_socket_directories": quoting.directory_list([str(self.socket_dir)])}

    def describe(self) -> dict[str, Any]:
        return {"pid": self._live_postmaster(), "data_dir": str(self.data_dir), "bin_dir": str(self.bin_dir),
                "log_file": str(self.log_file), "server_account": self.account.pw_name}


def built_in_default(setting: str, majors: Sequence[int]) -> dict[int, str | None]:
    """The value ``setting`` has when postgresql.conf does not set it, per installed PostgreSQL major, read
    from each server binary (``postgres --describe-config``; no server is started). A major that is not
    installed here maps to None. This is how "the default changed in release N" is measured rather than
    quoted. The binary refuses to run as root, so it runs as the server account."""
    from ..binaries import _SUBPROCESS_TIMEOUT, find
    from .. import validate

    if not isinstance(setting, str) or not setting.replace("_", "").isalnum():
        raise InvalidValue("setting", setting, "a PostgreSQL setting name such as ssl_min_protocol_version")
    account = server_account()
    as_account: dict[str, object] = {}
    if account.pw_uid != os.geteuid():
        as_account = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    found: dict[int, str | None] = {}
    for major in majors:
        try:
            inst = find(validate.pg_major(major))
        except LabkitError:
            found[major] = None
            continue
        try:
            out = subprocess.run([str(inst.bin_dir / "postgres"), "--describe-config"], capture_output=True, text=True,
                         timeout=_SUBPROCESS_TIMEOUT, check=True, cwd="/", env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
                         **as_account).stdout  # type: ignore[call-overload]
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            raise LabkitError(f"postgres --describe-config of PostgreSQL {major} failed: {exc}",
                              f"check the installation in {inst.bin_dir}") from None
        row = next((line.split("\t") for line in out.splitlines() if line.split("\t", 1)[0] == setting), None)
        found[major] = row[4] if row and len(row) > 4 else None
    return found
