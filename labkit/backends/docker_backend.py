"""The lab server in a Docker container, driven through the Docker SDK (never the docker CLI).

Why a container: on laptops without PostgreSQL binaries the official ``postgres`` image gives every
student the same server. The container honours that image's contract (``POSTGRES_PASSWORD``,
``/docker-entrypoint-initdb.d``, uid/gid 999), so ``labkit/postgres:16-offline`` built by
``docker/build-offline-image.sh`` works the same where no image registry is reachable.

Files reach the server by ``put_archive`` (a tar built in memory, owned by uid/gid 999 with the
asked modes), never through bind mounts: bind-mount ownership and modes break on Docker Desktop and
with uid 999, and PostgreSQL refuses a private key it does not own with mode 0600.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import posixpath
import re
import sys
import tarfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import docker.errors
import requests.exceptions
from docker.models.containers import Container
from docker.utils import parse_repository_tag

import docker

from ..errors import DockerUnavailable, InvalidValue, PortInUse, ServerCommandError, ServerStartError
from .base import Backend, ServerSpec
from .docker_layout import PGDATA as PGDATA  # re-exported: the data directory up to 17
from .docker_layout import INIT_SCRIPT, INITDB_DIR, data_dir_for, data_volume, env_value, remove_with_data
from .docker_archive import (ADMIN_ROLE, POSTGRES_UID, PullProgress, TarEntry, admin_role_sql, build_tar,
                             clean_relative, file_entries)

Progress = Callable[[str], None]

STOP_TIMEOUT = 20  # seconds of fast shutdown before docker kills the server
OPENSSL_BANNER = r"OpenSSL [0-9]+\.[0-9]+\.[0-9]+[a-z]?(\+quic)? +[0-9]{1,2} [A-Za-z]{3} [0-9]{4}"

LABEL_PREFIX = "org.pgtls-lab"
LABEL_LAB = f"{LABEL_PREFIX}.lab"
LABEL_WORKSPACE = f"{LABEL_PREFIX}.workspace"
LABEL_MANAGED = f"{LABEL_PREFIX}.managed"
LABEL_PG_MAJOR = f"{LABEL_PREFIX}.pg-major"
LABEL_HELPER_FOR = f"{LABEL_PREFIX}.helper-for"  # throwaway containers that edit a stopped lab's files
LABEL_OWNER = f"{LABEL_PREFIX}.owner-uid"  # who started the lab: `down --all` touches only one's own

OFFLINE_IMAGE = "labkit/postgres:16-offline"
ENGINE_HINT = "start Docker Desktop, or on Linux: sudo systemctl start docker (then check with: docker info)"
IMAGE_HINT = (
    "on a machine without registry access build an image with docker/build-offline-image.sh and set "
    f"LABKIT_IMAGE={OFFLINE_IMAGE}; or set LABKIT_IMAGE to an image listed by `docker images`"
)

def container_name(spec: ServerSpec) -> str:
    """``labkit-<lab>-<hash of workspace>``: two checkouts can run a lab of the same name."""
    digest = hashlib.sha256(str(Path(spec.workspace).expanduser().resolve()).encode()).hexdigest()[:8]
    lab = re.sub(r"[^A-Za-z0-9_.-]", "-", spec.name).strip("-.") or "lab"
    return f"labkit-{lab}-{digest}"


def _print_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _engine_reason(error: BaseException) -> str:
    """The useful part of an engine connection error, on one line."""
    return " ".join(str(error).split())[:300] or type(error).__name__


def _connect(client: docker.DockerClient | None = None) -> docker.DockerClient:
    """A client that has answered a ping; DockerUnavailable (with the fix) otherwise."""
    where = client.api.base_url if client else os.environ.get("DOCKER_HOST") or "the default socket"
    try:
        client = client or docker.from_env(timeout=30)
        client.ping()
        return client
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise DockerUnavailable(f"the Docker engine does not answer at {where}: {_engine_reason(exc)}",
                                ENGINE_HINT) from exc


@contextlib.contextmanager
def engine_errors(action: str) -> Iterator[None]:
    """Turn 'cannot reach the engine' into DockerUnavailable naming what we were doing."""
    try:
        yield
    except docker.errors.APIError:
        raise
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise DockerUnavailable(f"cannot {action}: the Docker engine does not answer ({_engine_reason(exc)})",
                                ENGINE_HINT) from exc


# -- the backend -------------------------------------------------------------------------------------
class DockerBackend(Backend):
    """One lab server in one container named ``labkit-<lab>-<hash>`` and labelled as labkit's.

    The server listens on 5432 inside the container; the host reaches it on ``127.0.0.1:<spec.port>``
    only. The admin channel is the ``labkit_admin`` role over TCP (there is no shared Unix socket).
    """

    kind = "docker"

    def __init__(self, spec: ServerSpec, *, client: docker.DockerClient | None = None,
                 progress: Progress | None = None) -> None:
        super().__init__(spec)
        self._client = client
        self._client_checked = False
        self.progress: Progress = progress or _print_progress
        self.image = spec.image or f"postgres:{spec.pg_major}"
        self.name = container_name(spec)
        self._pgdata: str | None = None

    # -- engine and image ------------------------------------------------------------------------------
    @classmethod
    def engine_status(cls, client: docker.DockerClient | None = None) -> tuple[bool, str]:
        """Whether the engine answers, and why not (for `labkit doctor` and backend auto-selection)."""
        try:
            client = _connect(client)
            with engine_errors("read the engine version"):
                version = client.version().get("Version", "?")
            return True, f"Docker engine {version} answers at {client.api.base_url}"
        except DockerUnavailable as exc:
            return False, exc.message

    @property
    def client(self) -> docker.DockerClient:
        """The engine client, checked once with a ping so that 'engine down' is reported clearly."""
        if not self._client_checked:
            self._client = _connect(self._client)
            self._client_checked = True
        assert self._client is not None
        return self._client

    @classmethod
    def image_available(cls, image: str, client: docker.DockerClient | None = None) -> bool:
        """Whether ``image`` is present locally (no pull)."""
        client = _connect(client)
        with engine_errors(f"look up image {image!r}"):
            try:
                client.images.get(image)
                return True
            except docker.errors.ImageNotFound:
                return False

    @classmethod
    def ensure_image(cls, image: str, progress: Progress | None = None,
                     client: docker.DockerClient | None = None) -> None:
        """Pull ``image`` if missing, reporting layer progress about once a second; DockerUnavailable
        naming the image and the fix if it cannot be had (no registry, unknown name, no access)."""
        client = _connect(client)
        if cls.image_available(image, client):
            return
        report = progress or _print_progress
        report(f"image {image} is not here; pulling it")
        repository, tag = parse_repository_tag(image)
        tracker = PullProgress(image, report)
        try:
            with engine_errors(f"pull image {image!r}"):
                for event in client.api.pull(repository, tag=tag or "latest", stream=True, decode=True):
                    if "error" in event:
                        raise cls._pull_failed(image, str(event["error"]))
                    tracker.add(event)
        except docker.errors.APIError as exc:
            raise cls._pull_failed(image, str(exc.explanation or exc)) from exc
        if not cls.image_available(image, client):
            raise cls._pull_failed(image, "the engine reported no error but the image is still missing")
        report(f"pulled {image}")

    @staticmethod
    def _pull_failed(image: str, reason: str) -> DockerUnavailable:
        return DockerUnavailable(f"cannot pull image {image!r}: {' '.join(reason.split())[:300]}", IMAGE_HINT)

    # -- container lookup --------------------------------------------------------------------------------
    def _container(self) -> Container | None:
        with engine_errors(f"look up container {self.name!r}"):
            try:
                return self.client.containers.get(self.name)
            except docker.errors.NotFound:
                pass
            try:  # a move to another port interrupted after parking the old container: take it back
                parked = self.client.containers.get(self._parked_name)
            except docker.errors.NotFound:
                return None
            parked.rename(self.name)
            parked.reload()
            return parked

    @property
    def _parked_name(self) -> str:
        return f"{self.name}-moving"

    def _require(self, action: str) -> Container:
        container = self._container()
        if container is None:
            raise ServerCommandError(f"cannot {action}: container {self.name!r} does not exist",
                                     "create the lab first (labkit up)")
        return container

    def labels(self) -> dict[str, str]:
        """Labels that let `labkit down --all` and stale-lab cleanup find this container."""
        return {
            LABEL_LAB: self.spec.name,
            LABEL_WORKSPACE: str(Path(self.spec.workspace).expanduser().resolve()),
            LABEL_MANAGED: "true",
            LABEL_PG_MAJOR: str(self.spec.pg_major),
            LABEL_OWNER: str(os.getuid()),
        }

    @property
    def network_name(self) -> str:
        """The lab's own bridge network: other containers on the engine cannot reach its server."""
        return self.name

    def _ensure_network(self) -> None:
        with engine_errors(f"create network {self.network_name!r}"):
            try:
                self.client.networks.get(self.network_name)
            except docker.errors.NotFound:
                self.client.networks.create(self.network_name, driver="bridge", labels=self.labels(),
                                            options={"com.docker.network.bridge.enable_icc": "false"})

    def _remove_network(self) -> None:
        with engine_errors(f"remove network {self.network_name!r}"):
            try:
                self.client.networks.get(self.network_name).remove()
            except docker.errors.NotFound:
                pass

    # -- lifecycle ---------------------------------------------------------------------------------------
    def create(self, base_conf: str, hba: str, files: dict[str, tuple[bytes, int]]) -> None:
        """Create (not start) the container and deliver the first-init script with its inputs."""
        if self._container() is not None:
            raise ServerCommandError(f"container {self.name!r} already exists",
                                     "remove the old lab first (labkit down), or choose another lab name")
        archive = build_tar(self._init_entries(base_conf, hba, files))  # validates paths before creating
        self.ensure_image(self.image, self.progress, self.client)
        self._check_image_major()
        self._ensure_network()
        try:
            container = self._create_container()
        except BaseException:
            self._remove_network()
            raise
        try:
            self._put(container, INITDB_DIR, archive, "deliver the first-init script")
        except BaseException:
            with contextlib.suppress(docker.errors.DockerException):
                container.remove(v=True, force=True)
            self._remove_network()
            raise

    def _check_image_major(self) -> None:
        """Refuse, before any container exists, an image whose PostgreSQL is not the asked major: the
        official and offline images say theirs in ``PG_MAJOR``, and a lab recorded as 18 that runs 16
        would make every version-dependent lesson judge the wrong server."""
        with engine_errors(f"inspect image {self.image!r}"):
            env = (self.client.images.get(self.image).attrs.get("Config") or {}).get("Env")
        found = env_value(env, "PG_MAJOR")
        if found and found.isdigit() and int(found) != self.spec.pg_major:
            raise ServerStartError(
                f"image {self.image!r} holds PostgreSQL {found}, not the {self.spec.pg_major} asked for",
                f"use --pg-version {found}, or an image of PostgreSQL {self.spec.pg_major} (postgres:"
                f"{self.spec.pg_major}, or build one: docker/build-offline-image.sh --pg-major {self.spec.pg_major})")

    def _create_container(self, volume: tuple[str, str] | None = None) -> Container:
        """The lab's container; with ``volume`` (name, mount point) it mounts that existing volume where
        the data directory lives (a lab moved to another port)."""
        with engine_errors(f"create container {self.name!r}"):
            try:
                return self.client.containers.create(
                    self.image,
                    name=self.name,
                    volumes={volume[0]: {"bind": volume[1], "mode": "rw"}} if volume else None,
                    labels=self.labels(),
                    environment={"POSTGRES_PASSWORD": self.spec.superuser_password, "LC_ALL": "C.UTF-8"},
                    ports={"5432/tcp": ("127.0.0.1", self.spec.port)},
                    network=self.network_name,
                    stop_signal="SIGINT",  # PostgreSQL's fast shutdown
                    detach=True,
                )
            except docker.errors.APIError as exc:
                raise ServerCommandError(f"cannot create container {self.name!r} from {self.image!r}: "
                                         f"{exc.explanation or exc}", IMAGE_HINT) from exc

    def _init_entries(self, base_conf: str, hba: str, files: dict[str, tuple[bytes, int]]) -> list[TarEntry]:
        """The init script plus its staging directory (0700): admin role SQL (0600, deleted once used),
        settings, pg_hba.conf and the lab's files with their modes."""
        stage = "labkit"
        entries = [
            TarEntry("00-labkit.sh", INIT_SCRIPT.encode(), 0o644),  # not executable: the entrypoint sources it
            TarEntry(stage, None, 0o700),
            TarEntry(f"{stage}/admin-role.sql", admin_role_sql(self.spec.admin_password), 0o600),
            TarEntry(f"{stage}/postgresql.conf.append", ("\n" + base_conf.rstrip("\n") + "\n").encode(), 0o600),
            TarEntry(f"{stage}/pg_hba.conf", (hba.rstrip("\n") + "\n").encode(), 0o600),
        ]
        if files:
            entries.append(TarEntry(f"{stage}/files", None, 0o700))
        for relative, (content, mode) in sorted(files.items()):
            entries += file_entries(clean_relative(relative), content, mode, prefix=f"{stage}/files")
        return entries

    def exists(self) -> bool:
        """Whether this lab's container exists (running or not)."""
        return self._container() is not None

    def start(self) -> None:
        """Start the container; readiness is LabServer's to probe."""
        container = self._require("start the server")
        with engine_errors(f"start container {self.name!r}"):
            try:
                container.start()
            except docker.errors.APIError as exc:
                raise self._start_failed(exc) from exc

    def _start_failed(self, exc: docker.errors.APIError) -> Exception:
        text = str(exc.explanation or exc)
        if "port is already allocated" in text or "address already in use" in text:
            return PortInUse(f"port {self.spec.port} on 127.0.0.1 is taken, so container {self.name!r} cannot start",
                             "stop what uses it (another lab: labkit down) or choose another port")
        return ServerStartError(f"container {self.name!r} did not start: {text}",
                                f"read its log (docker logs {self.name}), or recreate the lab: labkit down, labkit up")

    def move_port(self, port: int) -> bool:
        """Publish the stopped lab on ``port`` instead: a container's port is fixed at creation, so the
        container is created again on the same data volume (the data directory, with every lab file) and the old one
        removed. Until the new one exists the old one is kept, under a temporary name, so a failure here
        leaves the lab as it was."""
        old = self._require("move the lab to another port")
        if old.status in ("running", "restarting", "paused"):
            return False
        volume = data_volume(old)
        if volume is None:
            return False
        previous_port, new = self.spec.port, None
        with engine_errors(f"move container {self.name!r} to port {port}"):
            old.rename(self._parked_name)
            self.spec.port = int(port)
            try:
                new = self._create_container(volume=volume)
                # A lab that never started has its first-init script only in the old container's filesystem.
                init_dir, _ = old.get_archive(INITDB_DIR)
                self._put(new, posixpath.dirname(INITDB_DIR.rstrip("/")), b"".join(init_dir),
                          "carry the first-init script over")
            except BaseException:
                if new is not None:
                    with contextlib.suppress(docker.errors.DockerException):
                        new.remove(v=False, force=True)
                self.spec.port = previous_port
                old.rename(self.name)
                raise
            old.remove(v=False)  # the data volume stays: the new container uses it
        return True

    def stop(self) -> None:
        """Fast shutdown (SIGINT, the container's stop signal); docker kills it after STOP_TIMEOUT s."""
        container = self._container()
        if container is None or container.status not in ("running", "restarting", "paused"):
            return
        with engine_errors(f"stop container {self.name!r}"):
            container.stop(timeout=STOP_TIMEOUT)

    def destroy(self) -> None:
        """Remove the container with its anonymous data volume; the data is discarded, so no shutdown."""
        container = self._container()
        if container is not None:
            with engine_errors(f"remove container {self.name!r}"):
                remove_with_data(self.client, container)
        self._remove_network()

    def is_running(self) -> bool:
        """Whether the container runs (the server may still be starting)."""
        container = self._container()
        return container is not None and container.status == "running"

    # -- files -------------------------------------------------------------------------------------------
    @property
    def pgdata(self) -> str:
        """The data directory inside the container: the PGDATA its environment sets (inherited from the
        image, so an 18 image's ``/var/lib/postgresql/18/docker`` is found without knowing the tag), else the
        image's, else the official image's default for the major (:func:`data_dir_for`)."""
        if self._pgdata is None:
            env: list[str] | None = None
            with contextlib.suppress(DockerUnavailable, docker.errors.DockerException):
                container = self._container()
                source = container.attrs if container is not None else self.client.images.get(self.image).attrs
                env = (source.get("Config") or {}).get("Env")
            found = env_value(env, "PGDATA")
            if env is None:
                return data_dir_for(self.spec.pg_major)  # not cached: the engine may answer later
            self._pgdata = found or data_dir_for(self.spec.pg_major)
        return self._pgdata

    def server_path(self, relative: str) -> str:
        """Absolute path inside the container of a file below PGDATA."""
        return posixpath.join(self.pgdata, clean_relative(relative))

    def write_file(self, relative: str, content: bytes, mode: int = 0o600) -> None:
        """Write a file below PGDATA owned by postgres (999:999) with ``mode``; parents are made 0700."""
        relative = clean_relative(relative)
        container = self._require(f"write {relative!r}")
        self._put(container, self.pgdata, build_tar(file_entries(relative, content, mode)), f"write {relative!r}")

    def write_files(self, files: Mapping[str, tuple[bytes, int]]) -> None:
        """Several files in one archive, so one engine call (each is about 50 ms of CPU in dockerd)."""
        entries: dict[str, TarEntry] = {}
        for relative, (content, mode) in sorted(files.items()):
            for entry in file_entries(clean_relative(relative), content, mode):
                entries.setdefault(entry.name, entry)  # a shared parent folder once
        if entries:
            container = self._require(f"write {', '.join(sorted(files))}")
            self._put(container, self.pgdata, build_tar(list(entries.values())), f"write {', '.join(sorted(files))}")

    def read_files(self, relatives: Sequence[str]) -> dict[str, bytes | None]:
        """Files of one folder in one engine call (its archive); None for a file that is not there."""
        wanted = {clean_relative(r): r for r in relatives}
        folders = {posixpath.dirname(name) for name in wanted}
        if len(folders) != 1 or "" in folders:
            return super().read_files(relatives)
        (folder,) = folders
        path = self.server_path(folder)
        container = self._require(f"read {folder}/")
        with engine_errors(f"read {path}"):
            try:
                data = b"".join(container.get_archive(path)[0])
            except docker.errors.NotFound:
                return {r: None for r in relatives}
        found: dict[str, bytes | None] = {r: None for r in relatives}
        base = posixpath.dirname(folder)  # the archive's names start with the folder's own name
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar:
                name = posixpath.normpath(posixpath.join(base, member.name))
                extracted = tar.extractfile(member) if member.isfile() and name in wanted else None
                if extracted is not None:
                    found[wanted[name]] = extracted.read()
        return found

    def read_file(self, relative: str) -> bytes:
        """Read a file below PGDATA; FileNotFoundError if it is not there."""
        path = self.server_path(relative)
        container = self._require(f"read {relative!r}")
        with engine_errors(f"read {path}"):
            try:
                stream, _stat = container.get_archive(path)
                data = b"".join(stream)
            except docker.errors.NotFound:
                raise FileNotFoundError(f"{path} does not exist in container {self.name!r}") from None
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            member = tar.next()
            extracted = tar.extractfile(member) if member is not None else None
            if extracted is None:
                raise ServerCommandError(f"{path} is not a regular file", "give the path of a file")
            return extracted.read()

    def remove_file(self, relative: str) -> None:
        """Remove a file below PGDATA (missing is fine), as postgres; works on a stopped lab too."""
        path = self.server_path(relative)
        container = self._require(f"remove {relative!r}")
        command = ["rm", "-f", "--", path]
        with engine_errors(f"remove {path}"):
            if container.status == "running":
                code, output = container.exec_run(command, user=f"{POSTGRES_UID}:{POSTGRES_UID}")
            else:
                code, output = self._run_helper(container, command)
        if code != 0:
            raise ServerCommandError(f"cannot remove {path}: {output.decode(errors='replace').strip()}",
                                     "check the path with labkit status")

    def _run_helper(self, container: Container, command: list[str]) -> tuple[int, bytes]:
        """Run ``command`` in a throwaway container sharing the lab's volumes (the lab is stopped)."""
        helper = self.client.containers.create(
            self.image, command[1:], entrypoint=command[:1], user=f"{POSTGRES_UID}:{POSTGRES_UID}",
            volumes_from=[container.id], network_disabled=True, labels={LABEL_HELPER_FOR: self.name},
        )
        try:
            helper.start()
            code = helper.wait(timeout=60).get("StatusCode", 1)
            return code, helper.logs()
        finally:
            helper.remove(v=True, force=True)

    def _put(self, container: Container, path: str, archive: bytes, action: str) -> None:
        with engine_errors(action):
            try:
                container.put_archive(path, archive)
            except docker.errors.APIError as exc:
                raise ServerCommandError(f"cannot {action} in {path} of container {self.name!r}: "
                                         f"{exc.explanation or exc}",
                                         f"is {self.image!r} a postgres image with {INITDB_DIR}? "
                                         f"Otherwise set LABKIT_IMAGE=postgres:{self.spec.pg_major}") from exc

    # -- log ---------------------------------------------------------------------------------------------
    def _log_bytes(self) -> bytes:
        container = self._container()
        if container is None:
            return b""
        with engine_errors(f"read the log of {self.name!r}"):
            return container.logs(stdout=True, stderr=True)

    def log_size(self) -> int:
        """Bytes of container log (stdout and stderr) so far: a mark for log_since."""
        return len(self._log_bytes())

    def log_since(self, mark: int) -> str:
        """Log written after ``mark``; the whole log if the container was recreated since."""
        data = self._log_bytes()
        return data[mark if 0 <= mark <= len(data) else 0:].decode("utf-8", errors="replace")

    # -- connections -------------------------------------------------------------------------------------
    def admin_conninfo(self) -> dict[str, Any]:
        """The labkit_admin role over TCP without TLS, so a lesson breaking TLS cannot lock labkit out."""
        return {
            "host": self.host, "port": self.spec.port, "user": ADMIN_ROLE, "password": self.spec.admin_password,
            "dbname": "postgres", "sslmode": "disable", "connect_timeout": 3,
        }

    def admin_hba_lines(self) -> list[str]:
        """The admin role from any address.

        Through docker-proxy every client, even one on 127.0.0.1, reaches the server from the bridge
        network's gateway (e.g. 172.17.0.1), never from 127.0.0.1. So this line, and the lessons' own
        rules, must use ``all`` or ``0.0.0.0/0``; the publish on 127.0.0.1 is what keeps others out.
        """
        return [f"host all {ADMIN_ROLE} all scram-sha-256"]

    def server_openssl_banner(self) -> str | None:
        """The whole banner of that libcrypto (``OpenSSL 3.0.x  <date>``)."""
        container = self._container()
        if container is None or container.status != "running":
            return None
        with engine_errors(f"inspect the server in {self.name!r}"):
            code, out = container.exec_run(["sh", "-c", 'ldd "$(command -v postgres)"'])
            match = re.search(r"libcrypto\S* => (\S+)", out.decode(errors="replace"))
            if code != 0 or not match:
                return None
            code, out = container.exec_run(["grep", "-a", "-o", "-m1", "-E", OPENSSL_BANNER, match.group(1)])
        banner = out.decode(errors="replace").strip()
        return banner if code == 0 and banner.startswith("OpenSSL ") else None

    def listen_settings(self) -> dict[str, str]:
        """All interfaces on 5432 inside the container; the host side is loopback-only by the publish."""
        return {"listen_addresses": "'*'", "port": "5432"}

    def describe(self) -> dict[str, Any]:
        """Container facts for `labkit status`."""
        container = self._container()
        return {
            "container": self.name,
            "container_id": container.short_id if container else None,
            "image": self.image,
            "status": container.status if container else "absent",
            "address": f"{self.host}:{self.spec.port}",
            "data_dir": self.pgdata,
        }

    @classmethod
    def find_labs(cls, client: docker.DockerClient | None = None, *, owner: int | None = None) -> list[dict[str, Any]]:
        """Every labkit-managed container on this engine, or only those a given user started (for `labkit
        down --all`, which must never touch another user's labs)."""
        client = _connect(client)
        wanted = [f"{LABEL_MANAGED}=true"] + ([f"{LABEL_OWNER}={owner}"] if owner is not None else [])
        with engine_errors("list labkit containers"):
            # Another process may remove a container between the listing and its inspection.
            containers = client.containers.list(all=True, filters={"label": wanted}, ignore_removed=True)
        return [cls._lab_facts(c) for c in containers]

    @classmethod
    def find_workspace_lab(cls, workspace: Path) -> dict[str, Any] | None:
        """The container of the lab in ``workspace``, found by its label (state.json may be gone)."""
        answers, _ = cls.engine_status()
        if not answers:
            return None
        wanted = str(Path(workspace).expanduser().resolve())
        try:
            labs = cls.find_labs(owner=os.getuid())
        except docker.errors.DockerException:
            return None  # an engine that fails a listing holds no lab we could recover
        for lab in labs:
            if lab.get("workspace") == wanted:
                return lab
        return None

    @classmethod
    def remove_container(cls, container_id: str, client: docker.DockerClient | None = None) -> None:
        """Remove a labkit container found by find_labs (with its anonymous volume). Containers without
        labkit's label are refused, so a stale-lab cleanup can never remove someone else's."""
        client = _connect(client)
        with engine_errors(f"remove container {container_id!r}"):
            try:
                container = client.containers.get(container_id)
            except docker.errors.NotFound:
                return
            if container.labels.get(LABEL_MANAGED) != "true":
                raise InvalidValue("container", container_id, f"a container labelled {LABEL_MANAGED}=true",
                                   "labkit only removes the containers it created")
            remove_with_data(client, container)
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                client.networks.get(container.name).remove()

    @staticmethod
    def _lab_facts(container: Container) -> dict[str, Any]:
        labels = container.labels
        bindings = (container.attrs.get("HostConfig", {}).get("PortBindings") or {}).get("5432/tcp") or []
        return {
            "id": container.short_id,
            "name": container.name,
            "lab": labels.get(LABEL_LAB),
            "workspace": labels.get(LABEL_WORKSPACE),
            "pg_major": labels.get(LABEL_PG_MAJOR),
            "owner": labels.get(LABEL_OWNER),
            "image": container.attrs.get("Config", {}).get("Image"),
            "status": container.status,
            "port": int(bindings[0]["HostPort"]) if bindings and bindings[0].get("HostPort") else None,
        }
