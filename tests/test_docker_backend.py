"""DockerBackend against a real engine and a real PostgreSQL image; no mocks.

Why real: what matters here (file ownership inside the container, the loopback-only publish, TLS,
reloads, the init contract of the image) only shows with a real engine. The image is LABKIT_IMAGE or
labkit/postgres:16-offline (docker/build-offline-image.sh builds it without any registry).
"""
from __future__ import annotations

import datetime
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import docker
from docker.models.containers import Container
from labkit.backends.base import ServerSpec
from labkit.backends.docker_archive import PullProgress, scram_verifier
from labkit.backends.docker_backend import LABEL_HELPER_FOR, LABEL_MANAGED, DockerBackend
from labkit.errors import DockerUnavailable, InvalidValue, PortInUse

pytestmark = [pytest.mark.docker]

IMAGE = os.environ.get("LABKIT_IMAGE", "labkit/postgres:16-offline")
READY_TIMEOUT = 60.0

_up, _why = DockerBackend.engine_status()
if not _up:
    print(f"Docker engine not reachable: {_why}")
    pytest.skip(f"Docker engine not reachable: {_why}", allow_module_level=True)
if not DockerBackend.image_available(IMAGE):
    pytest.skip(f"image {IMAGE} is missing: build it with `sudo docker/build-offline-image.sh` "
                "(or set LABKIT_IMAGE to a postgres image you have)", allow_module_level=True)


# -- helpers -----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed() -> tuple[bytes, bytes]:
    """A throwaway server certificate and key for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "labkit-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def make_spec(workspace: Path, image: str = IMAGE, name: str = "dockertest") -> ServerSpec:
    return ServerSpec(name=name, workspace=workspace, pg_major=16, port=free_port(),
                      superuser_password="super'secret", admin_password="admin-pw-42", image=image)


def wait_ready(backend: DockerBackend) -> None:
    """Connect over the admin channel until it works (LabServer's job in real use)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        try:
            with psycopg.connect(**backend.admin_conninfo()):
                return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline or not backend.is_running():
                log = backend.log_since(0)[-3000:]
                pytest.fail(f"server not ready ({exc}); running={backend.is_running()}; log:\n{log}")
            time.sleep(0.3)


def admin_query(backend: DockerBackend, sql: str) -> Any:
    with psycopg.connect(**backend.admin_conninfo(), autocommit=True) as conn:
        row = conn.execute(sql).fetchone()
        return row[0] if row else None


# -- fixture: one lab for the module -------------------------------------------------------------------
@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerBackend]:
    backend = DockerBackend(make_spec(tmp_path_factory.mktemp("ws")), progress=lambda line: None)
    backend.destroy()  # a leftover from an interrupted run
    cert, key = self_signed()
    settings = {**backend.listen_settings(), "ssl": "on", "ssl_cert_file": "'server.crt'",
                "ssl_key_file": "'server.key'", "include_if_exists": "'lab.conf'"}
    base_conf = "".join(f"{k} = {v}\n" for k, v in settings.items())
    hba = "\n".join(backend.admin_hba_lines() + ["hostssl all all 0.0.0.0/0 scram-sha-256"])
    backend.create(base_conf, hba, {"server.crt": (cert, 0o644), "server.key": (key, 0o600)})
    backend.start()
    wait_ready(backend)
    yield backend
    backend.destroy()


# -- tests ---------------------------------------------------------------------------------------------
def test_create_and_start(lab: DockerBackend) -> None:
    assert lab.exists() and lab.is_running()
    facts = lab.describe()
    assert facts["status"] == "running" and facts["container"].startswith("labkit-dockertest-")
    assert int(admin_query(lab, "SHOW server_version_num")) >= 160000
    assert (lab.server_openssl_version() or "").startswith(("1.", "3."))


def test_tls_connection(lab: DockerBackend) -> None:
    conninfo = {**lab.admin_conninfo(), "sslmode": "require", "user": "postgres",
                "password": lab.spec.superuser_password}
    with psycopg.connect(**conninfo) as conn:
        row = conn.execute(
            "SELECT ssl, current_setting('server_version_num')::int FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        ).fetchone()
    assert row is not None
    ssl, version = row
    assert ssl is True and version >= 160000


def test_port_published_on_loopback_only(lab: DockerBackend) -> None:
    container = docker.from_env().containers.get(lab.name)
    assert container.attrs["HostConfig"]["PortBindings"] == {
        "5432/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(lab.spec.port)}]}
    assert {b["HostIp"] for b in container.ports["5432/tcp"]} == {"127.0.0.1"}


def test_labels_and_find_labs(lab: DockerBackend) -> None:
    found = [f for f in DockerBackend.find_labs() if f["name"] == lab.name]
    assert len(found) == 1
    assert found[0]["lab"] == "dockertest" and found[0]["port"] == lab.spec.port
    assert found[0]["workspace"] == str(Path(lab.spec.workspace).resolve())


def test_init_left_no_secrets(lab: DockerBackend) -> None:
    container = docker.from_env().containers.get(lab.name)
    code, out = container.exec_run(["find", "/docker-entrypoint-initdb.d/labkit", "-mindepth", "1"])
    assert code == 0 and out == b""
    env = "\n".join(container.attrs["Config"]["Env"])
    assert lab.spec.admin_password not in env and lab.spec.admin_password not in str(container.labels)


def test_write_file_owner_and_mode(lab: DockerBackend) -> None:
    lab.write_file("labkit-test/secret.key", b"not a key\n", 0o600)
    container = docker.from_env().containers.get(lab.name)
    code, out = container.exec_run(["stat", "-c", "%u:%g %a", lab.server_path("labkit-test/secret.key")])
    assert code == 0 and out.decode().strip() == "999:999 600"
    code, out = container.exec_run(["stat", "-c", "%u:%g %a", lab.server_path("labkit-test")])
    assert out.decode().strip() == "999:999 700"
    assert lab.read_file("labkit-test/secret.key") == b"not a key\n"
    lab.remove_file("labkit-test/secret.key")
    lab.remove_file("labkit-test/secret.key")  # missing is fine
    with pytest.raises(FileNotFoundError):
        lab.read_file("labkit-test/secret.key")


def test_several_files_travel_in_one_engine_call_each_way(lab: DockerBackend,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    files = {"batch/one.key": (b"first\n", 0o600), "batch/two.crt": (b"second\n", 0o644),
             "three.txt": (b"3\n", 0o640)}
    calls: list[str] = []
    real_put, real_get = Container.put_archive, Container.get_archive
    monkeypatch.setattr(Container, "put_archive", lambda self, *a, **k: calls.append("put") or real_put(self, *a, **k))
    monkeypatch.setattr(Container, "get_archive", lambda self, *a, **k: calls.append("get") or real_get(self, *a, **k))
    lab.write_files(files)
    assert calls == ["put"]  # one archive for three files in two folders
    container = docker.from_env().containers.get(lab.name)
    for relative, (content, mode) in files.items():
        code, out = container.exec_run(["stat", "-c", "%u:%g %a", lab.server_path(relative)])
        assert code == 0 and out.decode().strip() == f"999:999 {mode:o}", relative
    assert lab.read_file("three.txt") == b"3\n"
    calls.clear()
    found = lab.read_files(["batch/one.key", "batch/two.crt", "batch/missing.pem"])
    assert calls == ["get"]  # the folder's archive, once
    assert found == {"batch/one.key": b"first\n", "batch/two.crt": b"second\n", "batch/missing.pem": None}
    assert lab.read_files(["nowhere/a.pem", "nowhere/b.pem"]) == {"nowhere/a.pem": None, "nowhere/b.pem": None}
    for relative in files:
        lab.remove_file(relative)


def test_config_reload_and_log(lab: DockerBackend) -> None:
    mark = lab.log_size()
    lab.write_file("lab.conf", b"work_mem = '7MB'\n", 0o600)
    assert admin_query(lab, "SELECT pg_reload_conf()") is True
    deadline = time.monotonic() + 10
    while admin_query(lab, "SHOW work_mem") != "7MB":
        assert time.monotonic() < deadline, "work_mem did not change after the reload"
        time.sleep(0.2)
    log = lab.log_since(mark)
    assert "received SIGHUP, reloading configuration files" in log
    assert 'parameter "work_mem" changed to "7MB"' in log


def test_stop_and_start_again(lab: DockerBackend) -> None:
    started = time.monotonic()
    lab.stop()
    assert time.monotonic() - started < 15, "fast shutdown took too long"
    assert not lab.is_running() and lab.exists()
    lab.remove_file("lab.conf")  # works on a stopped lab (throwaway helper container)
    lab.write_file("stopped.txt", b"written while stopped\n", 0o640)
    lab.start()
    wait_ready(lab)
    assert admin_query(lab, "SHOW work_mem") == "4MB"
    assert lab.read_file("stopped.txt") == b"written while stopped\n"
    helpers = docker.from_env().containers.list(all=True, filters={"label": f"{LABEL_HELPER_FOR}={lab.name}"})
    assert helpers == []


def test_port_taken_is_reported(lab: DockerBackend, tmp_path: Path) -> None:
    spec = make_spec(tmp_path, name="porttaken")
    spec.port = lab.spec.port
    other = DockerBackend(spec, progress=lambda line: None)
    other.create("", "", {})
    try:
        with pytest.raises(PortInUse) as info:
            other.start()
        assert str(lab.spec.port) in info.value.message
    finally:
        other.destroy()


def test_destroy_leaves_nothing(tmp_path: Path) -> None:
    backend = DockerBackend(make_spec(tmp_path, name="gone"), progress=lambda line: None)
    backend.create("", "\n".join(backend.admin_hba_lines()), {})
    assert backend.exists()
    backend.destroy()
    backend.destroy()  # idempotent
    assert not backend.exists()
    labelled = docker.from_env().containers.list(all=True, filters={"label": f"{LABEL_MANAGED}=true"})
    assert backend.name not in {c.name for c in labelled}


def test_remove_container_only_removes_labkit_ones(tmp_path: Path) -> None:
    backend = DockerBackend(make_spec(tmp_path, name="leftover"), progress=lambda line: None)
    backend.create("", "", {})
    found = [f for f in DockerBackend.find_labs() if f["name"] == backend.name]
    DockerBackend.remove_container(found[0]["id"])
    assert not backend.exists()
    DockerBackend.remove_container(found[0]["id"])  # already gone: fine
    stranger = docker.from_env().containers.create(IMAGE, name=f"not-labkit-{backend.name}")
    try:
        with pytest.raises(InvalidValue):
            DockerBackend.remove_container(stranger.id)
    finally:
        stranger.remove(v=True, force=True)


def test_engine_down_is_explained(tmp_path: Path) -> None:
    dead = docker.DockerClient(base_url="unix:///nonexistent.sock", version="1.41")
    up, why = DockerBackend.engine_status(client=dead)
    assert not up and "does not answer" in why
    with pytest.raises(DockerUnavailable) as info:
        DockerBackend(make_spec(tmp_path), client=dead).exists()
    assert "systemctl start docker" in str(info.value) and "Docker Desktop" in str(info.value)


def test_unpullable_image_is_named(tmp_path: Path) -> None:
    image = "127.0.0.1:9/labkit/no-such-image:0"
    backend = DockerBackend(make_spec(tmp_path, image=image, name="nopull"), progress=lambda line: None)
    assert not DockerBackend.image_available(image)
    with pytest.raises(DockerUnavailable) as info:
        backend.create("", "", {})
    assert image in info.value.message and "build-offline-image.sh" in str(info.value)
    assert not backend.exists()


def test_pull_progress_summary() -> None:
    lines: list[str] = []
    progress = PullProgress("postgres:16", lines.append, every=0)
    for event in ({"status": "Pulling from library/postgres", "id": "16"},
                  {"status": "Downloading", "id": "a", "progressDetail": {"current": 1_000_000, "total": 4_000_000}},
                  {"status": "Already exists", "id": "b"},
                  {"status": "Download complete", "id": "a"}):
        progress.add(event)
    assert lines[-1] == "pulling postgres:16: 2/2 layers, 4 of 4 MB"


def test_scram_verifier_shape() -> None:
    verifier = scram_verifier("pw", salt=b"0123456789abcdef")
    assert verifier is not None and verifier.startswith("SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$")
    assert scram_verifier("pässword") is None
