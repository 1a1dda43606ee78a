"""The Docker backend on a shared machine: ports raced for, labs isolated from other containers, and
`down --all` touching only one's own labs — against a real engine and image (issue 8)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import docker
import psycopg
import pytest

from labkit.backends.docker_backend import LABEL_MANAGED, LABEL_OWNER, LABEL_WORKSPACE
from labkit.server import LabServer

from .helpers import PortThief, docker_image_or_skip, labkit, searchable_tmp

IMAGE = docker_image_or_skip()


def test_a_port_taken_between_choice_and_bind_is_survived(tmp_path: Path) -> None:
    with PortThief("docker") as thief, \
            LabServer.up(searchable_tmp(tmp_path) / "ws", backend="docker", image=IMAGE, progress=thief) as lab:
        assert lab.port != thief.port
        with psycopg.connect(lab.dsn(sslmode="require")) as conn:
            assert conn.info.pgconn.ssl_in_use


def test_two_docker_labs_start_at_once(tmp_path: Path) -> None:
    base = searchable_tmp(tmp_path)
    env = {**os.environ, "LABKIT_IMAGE": IMAGE}
    procs = [subprocess.Popen([sys.executable, "-m", "labkit", "up", "--backend", "docker", "--workspace",
                               str(base / f"ws{i}")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) for i in range(2)]
    outputs = [p.communicate(timeout=240) for p in procs]
    try:
        assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
        ports = {LabServer.attach(base / f"ws{i}").port for i in range(2)}
        assert len(ports) == 2
    finally:
        for i in range(2):
            labkit("down", "--workspace", str(base / f"ws{i}"), env={"LABKIT_IMAGE": IMAGE})


def _reaches(client: docker.DockerClient, network: str | None, address: str) -> bool:
    """Whether a throwaway container on ``network`` (None: the engine's default bridge) can open a TCP
    connection to ``address``:5432 — the lab container's own address, nothing outside the engine."""
    kwargs = {"network_mode": network} if network and network.startswith("container:") else \
        {"network": network} if network else {}
    # Dropped packets would leave a bare connect hanging for minutes: five seconds are plenty on one host.
    container = client.containers.run(IMAGE, ["5", "bash", "-c", f"exec 3<>/dev/tcp/{address}/5432"],
                                      entrypoint="timeout",
                                      detach=True, labels={"org.pgtls-lab.helper-for": "isolation-test"}, **kwargs)
    try:
        return container.wait(timeout=60)["StatusCode"] == 0
    finally:
        container.remove(force=True, v=True)  # and the image's anonymous data volume (it leaked 3 per run)


def test_a_docker_lab_is_reachable_only_through_its_loopback_port(tmp_path: Path) -> None:
    """Before, the lab sat on the default bridge and answered any other container on its bridge address."""
    client = docker.from_env()
    with LabServer.up(searchable_tmp(tmp_path) / "ws", backend="docker", image=IMAGE) as lab:
        container = client.containers.get(lab.backend.name)
        networks = container.attrs["NetworkSettings"]["Networks"]
        assert list(networks) == [lab.backend.network_name]
        address = networks[lab.backend.network_name]["IPAddress"]
        assert not _reaches(client, None, address)  # a container elsewhere on the engine
        assert not _reaches(client, lab.backend.network_name, address)  # nor one joined to its network (no ICC)
        assert _reaches(client, f"container:{container.id}", address)  # control: the probe itself works
    assert lab.backend.network_name not in [n.name for n in client.networks.list()]


def test_down_all_leaves_other_users_labs_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = searchable_tmp(tmp_path)
    monkeypatch.setenv("LABKIT_CACHE", str(base / "cache"))  # this test's own registry: other labs survive
    client = docker.from_env()
    other_workspace = base / "someone-else"
    other = client.containers.create(IMAGE, ["sleep", "300"], entrypoint="", name=f"labkit-lab-other-{os.getpid()}",
                                     labels={LABEL_MANAGED: "true", LABEL_OWNER: str(os.getuid() + 4242),
                                             LABEL_WORKSPACE: str(other_workspace)})
    try:
        mine = LabServer.up(base / "mine", backend="docker", image=IMAGE)
        mine.close()
        done = labkit("down", "--all", env={"LABKIT_CACHE": str(base / "cache"), "LABKIT_IMAGE": IMAGE})
        assert done.returncode == 0, done.stderr
        assert not mine.backend.exists()
        other.reload()
        assert other.status == "created"  # untouched: it belongs to another user
    finally:
        other.remove(force=True, v=True)


def test_a_docker_restart_that_lost_its_port_moves_to_another_and_keeps_its_data(tmp_path: Path) -> None:
    """A container's published port is fixed at creation: the lab is created again on the same data volume."""
    client = docker.from_env()
    with LabServer.up(searchable_tmp(tmp_path) / "ws", backend="docker", image=IMAGE) as lab:
        lab.execute("create table kept(v text); insert into kept values ('still here')")
        old = lab.port
        volume = {m["Name"] for m in client.containers.get(lab.backend.name).attrs["Mounts"]}
        lab.stop()
        with socket.socket() as thief:  # another program takes the port while the lab is down
            thief.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            thief.bind(("127.0.0.1", old))
            thief.listen()
            lab.start()
        assert lab.port != old
        assert LabServer.attach(lab.workspace.path).port == lab.port
        with psycopg.connect(lab.dsn(sslmode="require")) as conn:
            assert conn.info.pgconn.ssl_in_use
            assert conn.execute("select v from kept").fetchall() == [("still here",)]
        container = client.containers.get(lab.backend.name)
        assert {m["Name"] for m in container.attrs["Mounts"]} == volume  # the same data volume
        assert container.attrs["HostConfig"]["PortBindings"]["5432/tcp"] == [{"HostIp": "127.0.0.1",
                                                                              "HostPort": str(lab.port)}]
        name = lab.backend.name
    assert not client.containers.list(all=True, filters={"name": f"^/{name}"})
    assert not [v for v in client.volumes.list() if v.name in volume]  # down removed the data with the lab
