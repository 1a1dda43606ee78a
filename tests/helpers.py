"""Small helpers for tests that drive labkit as a user would: through its command line."""
from __future__ import annotations

import contextlib
import json
import os
import pwd
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def labkit(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run `labkit ARGS` in a fresh process (the way a user runs it) and capture its output.

    Its output goes to a pipe, so it wraps at labkit's own width, not at the COLUMNS=80 that pytest-xdist
    sets in its workers (messages asserted whole would otherwise break across lines); a test that is about
    the width passes COLUMNS in ``env``."""
    inherited = {name: value for name, value in os.environ.items() if name not in ("COLUMNS", "LINES")}
    full_env = {**inherited, **(env or {})}
    return subprocess.run([sys.executable, "-m", "labkit", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, check=False)


def status(workspace: Path) -> dict:
    done = labkit("status", "--json", "--workspace", str(workspace))
    return json.loads(done.stdout)


@dataclass(frozen=True)
class LiveProcess:
    pid: int
    owner: str
    cmdline: str


def live_processes() -> list[LiveProcess]:
    """Every live (non-zombie) process, read from /proc. A process that exits while it is being read is left
    out: with the suite's workers and a report beside it, processes come and go between the listing and
    the read (a test once died of FileNotFoundError on /proc/PID/cmdline)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().split(") ", 1)[1][:1]
            uid = proc.stat().st_uid
        except (OSError, IndexError):
            continue
        if state != "Z":
            found.append(LiveProcess(int(proc.name), _account_name(uid), cmdline))
    return found


def _account_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def postgres_processes_for(marker: str) -> list[str]:
    """Command lines of live processes mentioning ``marker`` (e.g. a workspace path) and postgres."""
    return [proc.cmdline for proc in live_processes() if marker in proc.cmdline and "postgres" in proc.cmdline]


def wait_for_log(lab: Any, mark: int, text: str, timeout: float = 5.0) -> str:
    """The log since ``mark`` once it contains ``text`` (or when ``timeout`` has passed)."""
    deadline = time.monotonic() + timeout
    log = lab.log_since(mark)
    while text not in log and time.monotonic() < deadline:
        time.sleep(0.01)
        log = lab.log_since(mark)
    return log


def searchable_tmp(path: Path) -> Path:
    """Make pytest's tmp folders traversable by the unprivileged server account (they are 0700): every
    folder on the way that lies in /tmp or in the run's own root (on a RAM file system, tests/conftest.py)."""
    run_root = os.environ.get("PGTLS_TEST_RUN_ROOT")
    for parent in [path, *path.parents]:
        ours = str(parent).startswith("/tmp/") or (run_root is not None and parent.is_relative_to(run_root))
        if ours and parent.exists():
            parent.chmod(parent.stat().st_mode | 0o755)
    return path


def docker_image_or_skip() -> str:
    """The image Docker-backend tests use; skips the calling module, saying why, when it cannot run.

    .ci/run starts dockerd and builds the offline image, so in CI these tests run; on a laptop without
    Docker the skip names what is missing and how to get it.
    """
    import pytest

    from labkit.backends.docker_backend import DockerBackend

    image = os.environ.get("LABKIT_IMAGE", "labkit/postgres:16-offline")
    answers, why = DockerBackend.engine_status()
    if not answers:
        pytest.skip(f"Docker engine not reachable: {why}", allow_module_level=True)
    if not DockerBackend.image_available(image):
        pytest.skip(f"image {image} is missing: build it with docker/build-offline-image.sh",
                    allow_module_level=True)
    return image


class PortThief:
    """Another program that binds a lab's port the moment labkit has chosen it (after labkit says
    ``creating the <backend> server (..., port N)``, before the server binds): the race, made certain.
    Use it as ``progress=`` of ``LabServer.up`` inside a ``with``."""

    def __init__(self, backend: str) -> None:
        self.prefix = f"creating the {backend} server"
        self.sockets: list[socket.socket] = []

    def __call__(self, message: str) -> None:
        if message.startswith(self.prefix) and not self.sockets:
            thief = socket.socket()
            thief.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            thief.bind(("127.0.0.1", int(message.rsplit("port ", 1)[1].rstrip(")"))))
            thief.listen()
            self.sockets.append(thief)

    @property
    def port(self) -> int:
        return int(self.sockets[0].getsockname()[1])

    def __enter__(self) -> "PortThief":
        return self

    def __exit__(self, *exc: object) -> None:
        for thief in self.sockets:
            thief.close()


@contextlib.contextmanager
def lesson_with(folder: Path, layers: Callable[[Any], list[Any]], roles: tuple[str, ...] = ("sinssl",)) -> Iterator[Any]:
    """A lesson as a notebook begins it (local PostgreSQL 16 in ``folder``), with extra ``roles`` and the
    server ``layers(pki)`` applied; finished on the way out, also when a step fails."""
    import labkit as lk

    lesson = lk.begin(backend="local", pg_version=16, workspace=searchable_tmp(folder))
    try:
        for role in roles:
            lesson.ensure_role(role)
        applied = lk.apply(lesson.lab, *layers(lesson.pki))
        assert applied.ok, applied.reason
        yield lesson
    finally:
        lesson.finish()


def course_failures_on(major: int, tmp_path: Path) -> tuple[dict[str, str], int, int]:
    """Run every lesson of the course on a local PostgreSQL ``major``, two at a time (each lesson on its own lab,
    as `labkit run -j 2` does): (failed lesson -> why, lessons run,
    lessons found). Each lesson's asserts adapt to the server they measured, so a failure here is a
    lesson teaching something false on that major."""
    from labkit.lesson_files import discover_notebooks
    from labkit.runner import run_series

    notebooks = Path(__file__).resolve().parent.parent / "notebooks"
    lessons = discover_notebooks(notebooks, [])
    result = run_series(lessons, params={"pg_version": major, "backend": "local",
                                         "workspace": str(searchable_tmp(tmp_path) / "ws")},
                        out_dir=tmp_path / "report", progress=False, jobs=2,  # 66 s instead of 121 on 2 cores
                        render_html=False)  # outcomes only: a page that fails to render is not a failure
    failed = {lesson.name: (f"{lesson.error.ename}: {lesson.error.evalue[:300]}" if lesson.error else lesson.status)
              for lesson in result.lessons if lesson.status != "passed"}
    return failed, len(result.lessons), len(lessons)
