"""The local backend end to end, driven through the `labkit` command as a user would."""
from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from labkit.errors import BinariesUnsuitable, InvalidValue, PortInUse, WorkspaceError
from labkit.server import LabServer

from .helpers import labkit, live_processes, postgres_processes_for, searchable_tmp, status


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return searchable_tmp(tmp_path) / "ws"


def test_up_tls_reload_down_through_the_cli(workspace: Path) -> None:
    up = labkit("up", "--backend", "local", "--pg-version", "16", "--workspace", str(workspace))
    assert up.returncode == 0, up.stderr
    info = status(workspace)
    assert info["running"] is True and info["backend"] == "local" and info["host"] == "127.0.0.1"
    assert "password" not in info["dsn"]

    with psycopg.connect(info["dsn"] + " sslmode=require") as conn:
        version, ssl_used, tls = conn.execute(
            "SELECT current_setting('server_version_num')::int, ssl, version FROM pg_stat_ssl "
            "WHERE pid = pg_backend_pid()").fetchone()
    assert 160000 <= version < 170000
    assert ssl_used is True and tls.startswith("TLSv1.")

    # a configuration change followed by a reload takes effect, a control without reload does not
    lab = LabServer.attach(workspace)
    lab.set_settings({"ssl_min_protocol_version": "TLSv1.3"})
    assert lab.show("ssl_min_protocol_version") == "TLSv1.2"
    result = lab.reload()
    assert result.ok and "received SIGHUP" in result.log
    assert lab.show("ssl_min_protocol_version") == "TLSv1.3"
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(info["dsn"] + " sslmode=require ssl_max_protocol_version=TLSv1.2").close()
    lab.close()

    down = labkit("down", "--workspace", str(workspace))
    assert down.returncode == 0, down.stderr
    assert postgres_processes_for(str(workspace)) == []
    assert status(workspace)["running"] is False


def test_server_listens_on_loopback_only(workspace: Path) -> None:
    with LabServer.up(workspace, backend="local") as lab:
        assert lab.show("listen_addresses") == "127.0.0.1"
        listening = Path("/proc/net/tcp").read_text()
        hex_port = f"{lab.port:04X}"
        rows = [line.split() for line in listening.splitlines()[1:] if line.split()[1].endswith(f":{hex_port}")]
        listeners = [row[1] for row in rows if row[3] == "0A"]
        assert listeners and all(a.startswith("0100007F:") for a in listeners), (lab.port, rows)
    assert postgres_processes_for(str(workspace)) == []


def test_secrets_and_server_files_have_safe_modes(workspace: Path) -> None:
    with LabServer.up(workspace, backend="local") as lab:
        assert (lab.workspace.secrets_dir.stat().st_mode & 0o777) == 0o700
        for secret in lab.workspace.secrets_dir.iterdir():
            assert secret.stat().st_mode & 0o077 == 0, secret
        key = Path(lab.backend.server_path("tls/bootstrap.key"))
        assert key.stat().st_mode & 0o777 == 0o600
        assert pwd.getpwuid(key.stat().st_uid).pw_name == lab.backend.describe()["server_account"]


def test_a_lab_left_behind_is_found_and_reused(workspace: Path) -> None:
    lab = LabServer.up(workspace, backend="local")
    port, pid = lab.port, lab.backend.describe()["pid"]
    lab.close()
    os.kill(pid, signal.SIGKILL)  # a crash: the kernel and the server die, the state file stays
    again = LabServer.up(workspace, backend="local")
    try:
        assert again.port == port
        assert again.backend.describe()["pid"] != pid
        assert again.execute("SELECT 1 AS one") == [{"one": 1}]
    finally:
        again.down()
    assert postgres_processes_for(str(workspace)) == []


def test_two_labs_at_once(tmp_path: Path) -> None:
    base = searchable_tmp(tmp_path)
    with LabServer.up(base / "a", backend="local") as first, LabServer.up(base / "b", backend="local") as second:
        assert first.port != second.port
        for lab in (first, second):
            with psycopg.connect(lab.dsn(sslmode="require")) as conn:
                assert conn.execute("SELECT current_setting('data_directory')").fetchone()[0] == str(
                    lab.backend.data_dir)
    assert postgres_processes_for(str(base)) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--backend", "podman"], "invalid backend: 'podman'; allowed: 'auto', 'local', 'docker'"),
        (["--pg-version", "9.6"], "invalid pg_version: '9.6'; allowed: 12-18"),
        (["--pg-version", "abc"], "invalid pg_version: 'abc'; allowed: 12-18"),
        (["--port", "80"], "invalid --port: '80'; allowed: an integer from 1024 to 65535"),
    ],
)
def test_bad_cli_values_are_named(workspace: Path, args: list[str], expected: str) -> None:
    done = labkit("up", "--workspace", str(workspace), *args)
    assert done.returncode == 2
    assert expected in done.stderr
    assert not (workspace / "state.json").exists()


def test_port_taken(workspace: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = labkit("up", "--backend", "local", "--workspace", str(workspace), "--port", str(port))
    assert done.returncode == 1  # a runtime failure (exit 2 is for usage errors)
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
    assert "--port" in done.stderr  # the hint


def test_no_binaries_names_every_place_checked(workspace: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = {"PATH": str(empty), "LABKIT_CACHE": str(tmp_path / "empty-cache")}  # no npm, no pg_config
    done = subprocess.run([sys.executable, "-m", "labkit", "up", "--backend", "local", "--pg-version", "13",
                           "--workspace", str(workspace)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env}, check=False)
    assert done.returncode == 1
    assert "no PostgreSQL 13 built with OpenSSL and sslinfo was found" in done.stderr
    assert "/usr/lib/postgresql/13/bin" in done.stderr
    assert "labkit postgres install 13" in done.stderr


def test_explicit_bin_dir_without_postgres_is_refused(workspace: Path, tmp_path: Path) -> None:
    with pytest.raises(BinariesUnsuitable, match="cannot be used: not a directory"):
        LabServer.up(workspace, backend="local", bin_dir=tmp_path / "nothing-here")
    with pytest.raises(BinariesUnsuitable, match="PostgreSQL 15.*not 16"):
        LabServer.up(workspace, backend="local", bin_dir="/usr/lib/postgresql/15/bin")


def test_unwritable_workspace(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(WorkspaceError, match="is not writable") as info:
        LabServer.up(blocker / "ws", backend="local")
    assert str(blocker / "ws") in str(info.value)


def test_bad_api_values_fail_before_anything_is_created(workspace: Path) -> None:
    with pytest.raises(InvalidValue, match="invalid pg_version: 11"):
        LabServer.up(workspace, backend="local", pg_version=11)
    with pytest.raises(InvalidValue, match="invalid backend"):
        LabServer.up(workspace, backend="vm")
    assert not workspace.exists()


def test_port_taken_api(workspace: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        with pytest.raises(PortInUse):
            LabServer.up(workspace, backend="local", port=busy.getsockname()[1])


STUDENT = "labkit-student"


@pytest.fixture(scope="module")
def student() -> str:
    """An ordinary account, for the 'as a normal user' runs (created once, as root)."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    try:
        pwd.getpwnam(STUDENT)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", STUDENT], check=True, timeout=30)
    return STUDENT


def test_as_a_normal_user(student: str, tmp_path: Path) -> None:
    """The same lifecycle for an ordinary account: the server runs as that account, not as `labkit`."""
    if os.geteuid() != 0:
        pytest.skip("already running as a normal user: the other tests cover it")
    python = Path(sys.executable)
    check = subprocess.run(["runuser", "-u", student, "--", str(python), "-c", "import labkit"],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, (
        f"the test interpreter {python} is not usable by {student}: {check.stderr.strip()[-300:]} — "
        "run the suite through ./lab test, which puts the virtualenv in /opt when root")
    workspace = searchable_tmp(tmp_path) / "student-ws"
    workspace.mkdir()
    shutil.chown(workspace, student)
    pg_bin = str(LabServer._local_binaries(16, None, True, lambda _: None).bin_dir)
    env = ["env", f"HOME={pwd.getpwnam(student).pw_dir}", f"LABKIT_PG_BIN={pg_bin}"]

    def as_student(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["runuser", "-u", student, "--", *env, str(python), "-m", "labkit", *args],
                              capture_output=True, text=True, timeout=120, cwd="/")

    up = as_student("up", "--backend", "local", "--workspace", str(workspace))
    assert up.returncode == 0, up.stderr
    try:
        owners = {proc.owner for proc in live_processes() if str(workspace) in proc.cmdline}
        assert owners == {student}
        st = as_student("status", "--json", "--workspace", str(workspace))
        assert '"running": true' in st.stdout
    finally:
        down = as_student("down", "--workspace", str(workspace))
    assert down.returncode == 0, down.stderr
    assert postgres_processes_for(str(workspace)) == []


def test_reset_gives_a_new_pki_and_a_new_server(workspace: Path) -> None:
    from labkit.pki import LabPKI

    assert labkit("up", "--backend", "local", "--workspace", str(workspace)).returncode == 0
    first = LabPKI.ensure(workspace / "pki").describe().set_index("file")["serial"]
    old_pid = status(workspace)["backend_pid"]
    reset = labkit("reset", "--backend", "local", "--workspace", str(workspace))
    try:
        assert reset.returncode == 0, reset.stderr
        info = status(workspace)
        assert info["running"] and info["backend_pid"] != old_pid
        second = LabPKI.ensure(workspace / "pki").describe().set_index("file")["serial"]
        assert not (first == second.reindex(first.index)).any()
    finally:
        labkit("down", "--workspace", str(workspace))


def test_postgres_list_and_doctor_report_what_the_course_needs() -> None:
    listing = labkit("postgres", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    majors = {row["major"]: row for row in json.loads(listing.stdout) if row["suitable"]}
    assert {15, 16} <= set(majors)
    for row in majors.values():
        assert row["openssl"] and row["sslinfo"]
    install = labkit("postgres", "install", "16")
    assert install.returncode == 0 and "already available" in install.stderr
    bad = labkit("postgres", "install", "9.6")
    assert bad.returncode == 2 and "invalid version: '9.6'" in bad.stderr
    doctor = labkit("doctor", "--json")
    assert doctor.returncode == 0, doctor.stdout
    status = {check["item"]: check["status"] for check in json.loads(doctor.stdout)["checks"]}
    for item in ("OpenSSL in the server (>= 1.1.1)", "sslinfo extension available",
                 "OpenSSL in the client library (libpq)"):
        assert status[item] == "OK", item
