"""Where a PostgreSQL image keeps its data, and what a lab's container runs at its first start.

The official image's contract changed at 18 (one volume at /var/lib/postgresql, PGDATA in a
major-version folder below it), and a lab moved to another port is a new container on the old data
volume: both are about the data's place, so they live here, apart from the container's lifecycle in
:mod:`labkit.backends.docker_backend`.
"""
from __future__ import annotations

import contextlib

import docker.errors
from docker.models.containers import Container

import docker

PGDATA = "/var/lib/postgresql/data"  # the official image's data directory up to PostgreSQL 17
INITDB_DIR = "/docker-entrypoint-initdb.d"
STAGE_DIR = f"{INITDB_DIR}/labkit"  # staging area of the first-init script; emptied once used

# Sourced as postgres by the image's entrypoint at first init (the official image sources *.sh that
# are not executable). `docker_process_sql` is the entrypoint's helper in both images: psql against
# the temporary server in the official one, a single-user backend in the offline one. The role is
# created first, before our settings can change how the server starts.
INIT_SCRIPT = f"""\
# labkit: first-init setup of this lab; delivered by labkit's DockerBackend, runs once.
labkit_stage={STAGE_DIR}
docker_process_sql --dbname postgres <"$labkit_stage/admin-role.sql"
rm -f "$labkit_stage/admin-role.sql"
cat "$labkit_stage/postgresql.conf.append" >>"$PGDATA/postgresql.conf"
cat "$labkit_stage/pg_hba.conf" >"$PGDATA/pg_hba.conf"
if [ -d "$labkit_stage/files" ]; then cp -R --preserve=mode "$labkit_stage/files/." "$PGDATA/"; fi
find "$labkit_stage" -mindepth 1 -delete
unset labkit_stage
"""


def data_dir_for(major: int) -> str:
    """The official image's PGDATA for ``major``, used when neither the container nor the image says.

    From 18 the image keeps data in a major-version directory below one volume at /var/lib/postgresql
    (``/var/lib/postgresql/18/docker``, the pg_ctlcluster layout that lets ``pg_upgrade --link`` work)
    and refuses to start when something is mounted at the old /var/lib/postgresql/data.
    """
    return PGDATA if major < 18 else f"/var/lib/postgresql/{major}/docker"


def env_value(env: list[str] | None, name: str) -> str | None:
    """``name``'s value in a container or image ``Config.Env`` list (``["PGDATA=/x", ...]``)."""
    for item in env or []:
        key, _, value = item.partition("=")
        if key == name and value:
            return value
    return None


def data_volume(container: Container) -> tuple[str, str] | None:
    """The volume that holds the data directory, and where it is mounted: the image's volume at
    /var/lib/postgresql/data up to 17, at /var/lib/postgresql from the 18 layout (anonymous at creation,
    mounted by name once a lab has moved)."""
    mounts = [m for m in container.attrs.get("Mounts") or []
              if m.get("Type") == "volume" and str(m.get("Destination", "")).startswith("/var/lib/postgresql")]
    if not mounts:
        return None
    deepest = max(mounts, key=lambda m: len(str(m["Destination"])))
    return str(deepest["Name"]), str(deepest["Destination"])


def remove_with_data(client: docker.DockerClient, container: Container) -> None:
    """Remove a lab's container and its data volume (``v=True`` spares a volume mounted by name)."""
    volume = data_volume(container)
    with contextlib.suppress(docker.errors.NotFound):
        container.remove(v=True, force=True)
    if volume:  # still in use (a lab moved meanwhile): the engine refuses, and the data stays
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            client.volumes.get(volume[0]).remove()
