"""Shared fixtures: real PostgreSQL servers (16 from labkit's cache or npm, 15 from Debian) and a lab PKI.

Servers are session-scoped because starting one costs about half a second; a test that changes the
configuration restores it with ``lab.reset_config(); lab.reload()`` (the ``clean_lab16`` / ``clean_lab15``
fixtures do that for you).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit.server import LabServer

from .helpers import searchable_tmp


def pytest_configure(config: pytest.Config) -> None:
    """A temporary root of this run's own. pytest's shared /tmp/pytest-of-<user> is set back to 0700 by
    every other pytest run that starts on the machine, which would cut the unprivileged server account off
    from the workspaces of a run already going (measured with two suites at once).

    The root is on a RAM file system where one has room (:func:`_scratch_folder`), and the lessons nbval runs
    keep their default workspaces in it too (``LABKIT_HOME``, set for them by :class:`EditionBackends`)."""
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        root = Path(tempfile.mkdtemp(prefix="pgtls-tests-", dir=_scratch_folder()))
        root.chmod(0o755)
        config.option.basetemp = str(root / "run")
        config._pgtls_tmp_root = root  # type: ignore[attr-defined]
        os.environ[RUN_ROOT] = str(root)  # the xdist workers, started later, inherit it
    _nbval_kernels_over_unix_sockets()
    config.pluginmanager.register(EditionBackends(), "pgtls-edition-backends")


#: Set by the controller to this run's temporary root; the workers' lessons keep their workspaces there.
RUN_ROOT = "PGTLS_TEST_RUN_ROOT"

#: Room a run needs in RAM (measured peak: 1.5 GB with four workers, sampled every 2 s); less free: disk.
SCRATCH_ROOM = 4 << 30


def _scratch_folder() -> str | None:
    """Where the run's files go: ``LABKIT_TEST_SCRATCH`` if set, else ``/dev/shm`` when it is a RAM file
    system with :data:`SCRATCH_ROOM` free, else the usual temporary folder (None).

    Why: a lab's data directory is a copy of about 1,000 files, and on this project's CI machines creating a
    file on disk costs 0.65 ms of system time (measured; reading one 3 us), so every new lab cost 0.7 s of
    CPU in ``cp`` alone -- 40 % of what the 26 lessons cost on local labs (47 s of CPU; 31 s in RAM)."""
    chosen = os.environ.get("LABKIT_TEST_SCRATCH")
    if chosen:
        return chosen
    shm = Path("/dev/shm")
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
        on_ram = any(line.split()[1:3] == [str(shm), "tmpfs"] for line in mounts)
        room = os.statvfs(shm)
    except OSError:
        return None
    if on_ram and room.f_bavail * room.f_frsize >= SCRATCH_ROOM and os.access(shm, os.W_OK | os.X_OK):
        return str(shm)
    return None


def _nbval_kernels_over_unix_sockets() -> None:
    """nbval's kernels get Unix-socket channels (labkit.kernels): with jupyter_client's TCP ports a kernel
    died before answering when another process took one of its ports first (seen beside a second suite)."""
    try:
        import nbval.kernel
    except ImportError:  # nbval not installed: no notebooks collected
        return
    from labkit.kernels import IpcKernelManager

    nbval.kernel.KernelManager = IpcKernelManager  # type: ignore[misc]


#: Files that take longest (measured with --durations on 2 cores: the course on a major is about 55 s, the
#: packaging and Binder set-ups 35-40 s, the audit's tests over 160 s in all). Under pytest-xdist each file is
#: one unit of work (--dist loadfile) and units are handed out in order, so these go first: started last,
#: one of them alone kept a worker busy for two minutes after the others had finished.
LONGEST_FILES = (
    "tests/test_course_on_pg17_18.py",
    "tests/test_course_on_pg15.py",
    "tests/test_audit.py",
    "tests/test_packaging.py",
    "tests/test_binder.py",
    "tests/test_lesson_isolation.py",
    "tests/test_nb_params.py",
    "tests/test_catalogue_es.py",
    "tests/test_catalogue_ends.py",
    "tests/test_shared_machine_docker.py",
    "tests/test_shared_machine.py",
    "tests/test_exercises.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On xdist workers only (a run in one process keeps the files' own order): the longest files first."""
    if not hasattr(config, "workerinput"):
        return
    rank = {name: index for index, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(LONGEST_FILES)))  # stable


class EditionBackends:
    """Under nbval, one edition per backend: with a Docker engine and image present (as in CI) ``auto``
    would run both on Docker; the Spanish edition's kernels get ``LABKIT_BACKEND=local``, so the committed
    outputs are checked against a local lab too (and a Docker lesson costs 2.5 times the CPU of a local one,
    measured: six lessons 33.4 s against 15.1 s). A plugin, not a conftest hook: those only see tests/.

    The Spanish kernels also keep their default workspaces apart (``LABKIT_HOME`` beside the usual one, with
    ``-es`` added): in shared ones an English lesson reused the local lab a Spanish lesson had left (``auto``
    keeps whatever lab is there), so neither edition ran on one backend, and a replaced lab cost a new one."""

    def __init__(self) -> None:
        from labkit import paths

        self.given = {name: os.environ.get(name) for name in ("LABKIT_BACKEND", "LABKIT_HOME")}
        run_root = os.environ.get(RUN_ROOT)
        if self.given["LABKIT_HOME"] is None and run_root:  # labs of this run, in its own root
            root = Path(run_root) / "labs"
        else:
            root = paths.default_workspace_root()
        self.english = {**self.given, "LABKIT_HOME": str(root)}
        self.spanish = {"LABKIT_BACKEND": "local", "LABKIT_HOME": str(root.with_name(root.name + "-es"))}

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Before nbval's collector starts a notebook's kernel; every other test gets what the run was given."""
        path = Path(str(item.fspath))
        spanish = path.suffix == ".ipynb" and "es" in (path.parent.name, path.parent.parent.name)
        notebook = path.suffix == ".ipynb"
        for name, value in (self.spanish if spanish else self.english if notebook else self.given).items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the run's root, after stopping the labs still recorded in it (a lesson that failed before its
    last cell leaves its lab running)."""
    root = getattr(config, "_pgtls_tmp_root", None)
    if root is not None:
        from labkit.errors import LabkitError
        from labkit.workspace import registered_workspaces

        for workspace in registered_workspaces():
            if workspace.is_relative_to(root):
                try:
                    LabServer.attach(workspace).down()
                except LabkitError:
                    pass
        shutil.rmtree(root, ignore_errors=True)


def _lab(tmp_path_factory: pytest.TempPathFactory, major: int, server_lang: str = "en") -> Iterator[LabServer]:
    workspace = tmp_path_factory.mktemp(f"lab{major}" + ("" if server_lang == "en" else f"-{server_lang}"))
    searchable_tmp(workspace)
    server = LabServer.up(workspace, backend="local", pg_version=major, server_lang=server_lang)
    try:
        yield server
    finally:
        server.down()


@pytest.fixture(scope="session")
def lab16(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """A local PostgreSQL 16 lab (OpenSSL 1.1.1 build from the npm package)."""
    yield from _lab(tmp_path_factory, 16)


@pytest.fixture(scope="session")
def lab15(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """A local PostgreSQL 15 lab (Debian's build, OpenSSL 3)."""
    yield from _lab(tmp_path_factory, 15)


@pytest.fixture(scope="session")
def lab15_es(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """Debian's PostgreSQL 15 (built with NLS) writing its messages in Spanish (server_lang="es")."""
    yield from _lab(tmp_path_factory, 15, "es")


@pytest.fixture(params=[16, 15], ids=["pg16", "pg15"])
def any_lab(request: pytest.FixtureRequest) -> Iterator[LabServer]:
    """Each test using this runs on PostgreSQL 16 and on 15, from a clean configuration."""
    lab: LabServer = request.getfixturevalue(f"lab{request.param}")
    lab.reset_config()
    lab.reload()
    yield lab
    lab.reset_config()
    lab.reload()


@pytest.fixture
def clean_lab16(lab16: LabServer) -> Iterator[LabServer]:
    lab16.reset_config()
    lab16.reload()
    yield lab16
    lab16.reset_config()
    lab16.reload()
