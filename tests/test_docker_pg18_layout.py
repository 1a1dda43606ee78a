"""The Docker backend on PostgreSQL 18's image layout, against a real engine and an offline-built 18 image.

Why: from 18 the official image keeps its data in /var/lib/postgresql/18/docker below one volume at
/var/lib/postgresql and refuses a mount at the old /var/lib/postgresql/data. labkit must find the data
directory from the image (its PGDATA), not assume the pre-18 path: a file written to the wrong place
is silently ignored by the server. The image is built without any registry:
``docker/build-offline-image.sh --pg-major 18 --pg-dir <an unpacked 18 build>``.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
import pytest

import docker
from labkit.backends.docker_backend import PGDATA, DockerBackend, data_dir_for, env_value
from labkit.server import LabServer

from .helpers import searchable_tmp

pytestmark = [pytest.mark.docker]

IMAGE = os.environ.get("LABKIT_IMAGE_18", "labkit/postgres:18-offline")
NEW_LAYOUT = "/var/lib/postgresql/18/docker"

_up, _why = DockerBackend.engine_status()
if not _up:
    pytest.skip(f"Docker engine not reachable: {_why}", allow_module_level=True)
if not DockerBackend.image_available(IMAGE):
    pytest.skip(f"image {IMAGE} is missing: build it with `sudo docker/build-offline-image.sh --pg-major 18 "
                "--pg-dir <unpacked 18 build>` (or set LABKIT_IMAGE_18 to a postgres:18 image)",
                allow_module_level=True)


def test_the_default_data_directory_follows_the_official_images() -> None:
    assert data_dir_for(16) == PGDATA == "/var/lib/postgresql/data"
    assert data_dir_for(18) == NEW_LAYOUT
    assert env_value(["PATH=/bin", "PGDATA=/x/y"], "PGDATA") == "/x/y"
    attrs = docker.from_env().images.get(IMAGE).attrs["Config"]
    assert env_value(attrs["Env"], "PGDATA") == NEW_LAYOUT
    assert list(attrs["Volumes"]) == ["/var/lib/postgresql"]


def test_a_lab_on_the_18_layout_serves_tls_and_reads_what_labkit_writes(tmp_path: Path) -> None:
    with LabServer.up(searchable_tmp(tmp_path) / "ws", backend="docker", pg_version=18, image=IMAGE) as lab:
        assert lab.backend.pgdata == NEW_LAYOUT
        assert lab.backend.describe()["data_dir"] == NEW_LAYOUT
        with psycopg.connect(lab.dsn(sslmode="require")) as conn:
            data_dir, number, version = conn.execute(
                "SELECT current_setting('data_directory'), current_setting('server_version_num')::int, s.version "
                "FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid() AND s.ssl").fetchone()
        assert (data_dir, number // 10000, version) == (NEW_LAYOUT, 18, "TLSv1.3")
        marker = uuid.uuid4().hex
        lab.backend.write_file("labkit-marker.txt", marker.encode(), 0o600)
        assert lab.execute("SELECT pg_read_file('labkit-marker.txt') AS text") == [{"text": marker}]
        assert lab.backend.read_file("labkit-marker.txt") == marker.encode()
        lab.down()


def test_the_18_image_refuses_a_volume_at_the_old_path() -> None:
    client = docker.from_env()
    volume = client.volumes.create(f"labkit-test-old-layout-{uuid.uuid4().hex[:8]}")
    container = client.containers.create(IMAGE, environment={"POSTGRES_PASSWORD": uuid.uuid4().hex},
                                         volumes={volume.name: {"bind": "/var/lib/postgresql/data", "mode": "rw"}})
    try:
        container.start()
        status = container.wait(timeout=120)["StatusCode"]
        text = container.logs(stdout=True, stderr=True).decode(errors="replace")
        assert status != 0, f"the 18 image started with a volume at the old path: {text[-300:]!r}"
        assert "mounted at /var/lib/postgresql/data" in text, text
    finally:
        container.remove(force=True, v=True)  # with the image's own anonymous volume (docker's remove=True keeps it)
        volume.remove(force=True)


def test_an_image_of_another_major_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    from labkit.errors import ServerStartError

    workspace = searchable_tmp(tmp_path) / "ws"
    with pytest.raises(ServerStartError) as caught:
        LabServer.up(workspace, backend="docker", pg_version=16, image=IMAGE)
    assert f"image {IMAGE!r} holds PostgreSQL 18, not the 16 asked for" in caught.value.message
    assert "--pg-major 16" in caught.value.hint
    leftovers = [c for c in docker.from_env().containers.list(all=True)
                 if str(workspace.resolve()) in c.labels.get("org.pgtls-lab.workspace", "")]
    assert leftovers == []
