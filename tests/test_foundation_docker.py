"""The Docker backend through the `labkit` command, against a real engine and image.

Skips (saying why) only when no Docker engine answers or the image is missing; .ci/run starts dockerd and
builds the offline image, so in CI these run.
"""
from __future__ import annotations

from pathlib import Path

import docker
import psycopg
import pytest

from labkit.server import LabServer

from .helpers import docker_image_or_skip, labkit, searchable_tmp, status

IMAGE = docker_image_or_skip()

ENV = {"LABKIT_IMAGE": IMAGE}


def _containers_for(workspace: Path) -> list[str]:
    client = docker.from_env()
    found = client.containers.list(all=True, filters={"label": f"org.pgtls-lab.workspace={workspace}"})
    return [c.name for c in found]


def test_up_tls_reload_down_through_the_cli(tmp_path: Path) -> None:
    workspace = searchable_tmp(tmp_path) / "ws"
    up = labkit("up", "--backend", "docker", "--pg-version", "16", "--workspace", str(workspace), env=ENV)
    assert up.returncode == 0, up.stderr
    info = status(workspace)
    assert info["running"] is True and info["backend"] == "docker" and info["host"] == "127.0.0.1"
    with psycopg.connect(info["dsn"] + " sslmode=require") as conn:
        version, ssl_used = conn.execute("SELECT current_setting('server_version_num')::int, ssl FROM pg_stat_ssl "
                                         "WHERE pid = pg_backend_pid()").fetchone()
    assert 160000 <= version < 170000 and ssl_used is True

    lab = LabServer.attach(workspace)
    lab.set_settings({"ssl_min_protocol_version": "TLSv1.3"})
    result = lab.reload()
    assert result.ok and "received SIGHUP" in result.log
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(info["dsn"] + " sslmode=require ssl_max_protocol_version=TLSv1.2").close()
    lab.close()

    assert _containers_for(lab.workspace.path)
    down = labkit("down", "--workspace", str(workspace), env=ENV)
    assert down.returncode == 0, down.stderr
    assert _containers_for(lab.workspace.path) == []


def test_published_on_loopback_only(tmp_path: Path) -> None:
    with LabServer.up(searchable_tmp(tmp_path) / "ws", backend="docker", image=IMAGE) as lab:
        container = docker.from_env().containers.get(lab.backend.describe()["container_id"])
        bindings = container.attrs["HostConfig"]["PortBindings"]["5432/tcp"]
        assert bindings == [{"HostIp": "127.0.0.1", "HostPort": str(lab.port)}]


def test_auto_prefers_docker_when_the_image_is_there(tmp_path: Path) -> None:
    workspace = searchable_tmp(tmp_path) / "ws"
    up = labkit("up", "--workspace", str(workspace), env=ENV)
    try:
        assert up.returncode == 0, up.stderr
        assert f"backend: docker (Docker engine answers and {IMAGE} is present)" in up.stderr
    finally:
        labkit("down", "--workspace", str(workspace), env=ENV)


def test_labkit_backend_says_what_auto_means_and_a_bad_value_is_refused_first(tmp_path: Path) -> None:
    """With the engine and image there, LABKIT_BACKEND=local makes ``auto`` local (the suite's Spanish
    edition uses it); a value that is no backend is named, and nothing starts."""
    workspace = searchable_tmp(tmp_path) / "ws"
    up = labkit("up", "--workspace", str(workspace), env={**ENV, "LABKIT_BACKEND": "local"})
    try:
        assert up.returncode == 0, up.stderr
        assert "backend: local (LABKIT_BACKEND=local)" in up.stderr
    finally:
        labkit("down", "--workspace", str(workspace), env=ENV)
    bad = labkit("up", "--workspace", str(workspace), env={**ENV, "LABKIT_BACKEND": "podman"})
    assert bad.returncode != 0
    assert "invalid LABKIT_BACKEND: 'podman'" in bad.stderr and "'local'" in bad.stderr, bad.stderr
    assert not (workspace / "state.json").exists()


def test_engine_down_is_a_clear_error_and_auto_falls_back(tmp_path: Path) -> None:
    workspace = searchable_tmp(tmp_path) / "ws"
    dead = {**ENV, "DOCKER_HOST": "unix:///nonexistent.sock"}
    forced = labkit("up", "--backend", "docker", "--workspace", str(workspace), env=dead)
    assert forced.returncode == 1  # a runtime failure; 2 is for usage errors
    said = " ".join(forced.stderr.split())  # the hint is wrapped to 100 columns
    assert "Docker engine does not answer" in said and "docker info" in said
    auto = labkit("up", "--workspace", str(workspace), env=dead)
    try:
        assert auto.returncode == 0, auto.stderr
        assert "backend: local (no Docker engine" in auto.stderr
    finally:
        labkit("down", "--workspace", str(workspace), env=dead)


def test_down_all_removes_every_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Labs registered under one labkit cache (isolated here so the suite's other labs survive)."""
    base = searchable_tmp(tmp_path)
    pg_bin = str(LabServer._local_binaries(16, None, True, lambda _: None).bin_dir)
    isolated = {**ENV, "LABKIT_CACHE": str(base / "cache"), "LABKIT_PG_BIN": pg_bin}
    for name, value in isolated.items():
        monkeypatch.setenv(name, value)
    docker_lab = LabServer.up(base / "d", backend="docker", image=IMAGE)
    local_lab = LabServer.up(base / "l", backend="local")
    docker_lab.close()
    local_lab.close()
    done = labkit("down", "--all", env=isolated)
    assert done.returncode == 0, done.stderr
    assert "2 lab(s) stopped" in done.stderr
    assert _containers_for(docker_lab.workspace.path) == []
    assert not local_lab.backend.is_running()


@pytest.mark.parametrize("left", ["stopped", "running"])
def test_a_container_outliving_its_deleted_workspace_is_replaced_not_waited_on(tmp_path: Path, left: str) -> None:
    """The workspace deleted while its container stays (its data is in a volume, not in the folder): the
    container's passwords went with ``secrets/``, so it can never be logged in to again. ``up`` says so,
    removes it and starts a new lab at once; before, it restarted the old one and waited 60 s on "password
    authentication failed for user labkit_admin"."""
    import shutil
    import time

    workspace = searchable_tmp(tmp_path) / "ws"
    old = LabServer.up(workspace, backend="docker", image=IMAGE)
    old_id = old.backend.describe()["container_id"]
    if left == "stopped":
        old.backend.stop()
    old.close()
    shutil.rmtree(workspace)
    said: list[str] = []
    started = time.monotonic()
    new = LabServer.up(workspace, backend="docker", image=IMAGE, progress=said.append)
    try:
        seconds = time.monotonic() - started
        assert any("no longer in" in line and "removing it" in line for line in said), said
        assert new.backend.describe()["container_id"] != old_id
        assert old_id not in [c.id for c in docker.from_env().containers.list(all=True)]
        with psycopg.connect(new.dsn(sslmode="require")) as conn:
            assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0] is True
        assert seconds < 30, f"took {seconds:.1f} s"
    finally:
        new.down()


def test_a_refused_admin_password_fails_at_once_naming_the_secrets(tmp_path: Path) -> None:
    """A container whose passwords differ from the workspace's (here: the secret replaced by hand) refuses
    labkit's admin channel; waiting never cures that, so the start fails at once and says where to look."""
    import time

    from labkit.errors import ServerStartError
    from labkit.workspace import ADMIN_SECRET

    lab = LabServer.up(searchable_tmp(tmp_path) / "ws", backend="docker", image=IMAGE)
    try:
        lab.stop()
        (lab.workspace.secrets_dir / ADMIN_SECRET).write_text("not-the-containers-password\n")
        started = time.monotonic()
        with pytest.raises(ServerStartError) as refused:
            LabServer.up(lab.workspace.path, backend="docker", image=IMAGE)
        assert time.monotonic() - started < 20
        assert "refused labkit's admin password" in refused.value.message
        assert str(lab.workspace.secrets_dir) in refused.value.hint and "labkit reset" in refused.value.hint
    finally:
        lab.down()
