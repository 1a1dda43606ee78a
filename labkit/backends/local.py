"""The `local` backend: initdb, pg_ctl and postgres from a local installation.

Each lab gets its own data directory, Unix-socket directory and log file inside its workspace. When labkit
runs as root the server runs as the unprivileged account ``labkit`` (created on first use), because
PostgreSQL refuses to run as root. A fresh data directory is a copy of an initdb'd template kept in
labkit's cache: copying is several times faster than running initdb for every lab.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from .. import paths, quoting
from ..errors import LabkitError, ServerStartError, WorkspaceError
from .base import Backend, ServerSpec

SERVER_ACCOUNT = "labkit"
_TIMEOUT = 60


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
        if spec.bin_dir is None:
            raise LabkitError("the local backend needs a bin_dir", "call labkit.binaries.find() first")
        self.bin_dir = Path(spec.bin_dir)
        self.account = server_account()
        self.server_dir = spec.workspace / "server"
        self.data_dir = self.server_dir / "pgdata"
        self.log_file = self.server_dir / "postgres.log"
        self.socket_dir = self._socket_dir()

    # -- helpers -------------------------------------------------------------------------------------
    def _socket_dir(self) -> Path:
        """Inside the workspace unless the socket path would pass the 107-byte limit of Unix sockets."""
        inside = self.server_dir / "run"
        if len(str(inside / f".s.PGSQL.{self.spec.port}")) < 100:
            return inside
        return Path("/tmp") / f"labkit-{paths.short_hash(str(self.spec.workspace))}"

    def _run_as_server(self, argv: list[str], timeout: float = _TIMEOUT) -> subprocess.CompletedProcess[str]:
        env = {"PATH": f"{self.bin_dir}:/usr/bin:/bin", "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}
        kwargs: dict[str, Any] = {}
        if self.account.pw_uid != os.geteuid():
            kwargs = {"user": self.account.pw_uid, "group": self.account.pw_gid, "extra_groups": []}
        try:
            return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, cwd="/",
                                  check=False, **kwargs)
        except subprocess.TimeoutExpired as exc:
            raise ServerStartError(f"{Path(argv[0]).name} did not finish within {timeout:.0f} s",
                                   f"see {self.log_file}") from exc

    def _own(self, path: Path, mode: int) -> None:
        if self.account.pw_uid != os.geteuid():
            os.chown(path, self.account.pw_uid, self.account.pw_gid)
        path.chmod(mode)

    def _template(self) -> Path:
        """An initdb'd data directory to copy, one per installation and account, made on first use."""
        key = paths.short_hash(f"{self.bin_dir.resolve()}:{self.account.pw_uid}", 12)
        template = paths.cache_dir() / "templates" / key
        if (template / "PG_VERSION").exists():
            return template
        template.parent.mkdir(parents=True, exist_ok=True)
        if paths.running_as_root():
            for d in (paths.cache_dir(), template.parent):
                d.chmod(0o755)
        staging = template.with_name(template.name + f".tmp{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700)
        self._own(staging, 0o700)
        done = self._run_as_server([str(self.bin_dir / "initdb"), "-D", str(staging), "-U", "postgres",
                                    "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"], timeout=120)
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
        template = self._template()
        self.server_dir.mkdir(parents=True, exist_ok=True)
        self._own(self.server_dir, 0o700)
        shutil.rmtree(self.data_dir, ignore_errors=True)
        done = subprocess.run(["cp", "-a", str(template), str(self.data_dir)], capture_output=True, text=True,
                              timeout=_TIMEOUT, check=False)
        if done.returncode != 0:
            raise WorkspaceError(f"could not copy the data directory template: {done.stderr.strip()}",
                                 f"check free space and permissions in {self.server_dir}")
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self._own(self.socket_dir, 0o700)
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
        self._clear_stale_server()
        done = self._run_as_server([str(self.bin_dir / "pg_ctl"), "start", "-D", str(self.data_dir),
                                    "-l", str(self.log_file), "-W", "-s"])
        if done.returncode != 0:
            raise ServerStartError(f"pg_ctl start failed: {(done.stderr or done.stdout).strip()[-600:]}",
                                   f"see {self.log_file}")

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def is_running(self) -> bool:
        pid = self._postmaster_pid()
        if pid is None:
            return False
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()  # empty for a zombie
        except OSError:
            try:
                os.kill(pid, 0)
            except (ProcessLookupError, PermissionError):
                return False
            return True
        return b"postgres" in cmdline

    def stop(self) -> None:
        if not self.is_running():
            return
        done = self._run_as_server([str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast",
                                    "-w", "-t", "30", "-s"])
        if done.returncode != 0 and self.is_running():
            pid = self._postmaster_pid()
            if pid:
                os.kill(pid, signal.SIGQUIT)

    def destroy(self) -> None:
        self.stop()
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
                folder.mkdir()
                self._own(folder, 0o700)
        tmp = target.with_name(f".{target.name}.labkit-tmp")
        tmp.write_bytes(content)
        self._own(tmp, mode)
        tmp.replace(target)

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

    def server_openssl_version(self) -> str | None:
        from ..binaries import _linked_libcrypto, openssl_version_in

        libcrypto = _linked_libcrypto(self.bin_dir / "postgres")
        return openssl_version_in(libcrypto) if libcrypto else None

    def listen_settings(self) -> dict[str, str]:
        return {"listen_addresses": quoting.conf_value("127.0.0.1"), "port": str(self.spec.port),
                "unix_socket_directories": quoting.directory_list([str(self.socket_dir)])}

    def describe(self) -> dict[str, Any]:
        return {"pid": self._postmaster_pid(), "data_dir": str(self.data_dir), "bin_dir": str(self.bin_dir),
                "log_file": str(self.log_file), "server_account": self.account.pw_name}
