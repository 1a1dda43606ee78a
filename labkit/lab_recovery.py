"""Finding a lab again when its workspace lost track of it, and telling when what was found cannot be used.

A lab outlives its ``state.json`` in two ways: the file is deleted or damaged while the server runs (a
postmaster on the workspace's data directory, or a container labelled with the workspace), or the whole
workspace is deleted while a Docker container stays behind, since the container's data lives in a volume
and not in the folder. The first is recovered: the state is written again from what runs. The second is
not: the passwords the container was created with lived in the deleted ``secrets/``, so labkit could never
log in to it again (seen: a 60 s wait on "password authentication failed for user labkit_admin").
"""
from __future__ import annotations

from collections.abc import Callable

from .errors import LabkitError
from .workspace import ADMIN_SECRET, LabState, Workspace


def find_server(ws: Workspace, say: Callable[[str], None]) -> LabState | None:
    """Rebuild the state of a lab whose state.json is gone or damaged from what really runs: a postmaster
    on the workspace's data directory, or a container labelled with this workspace. The state found is
    saved, marked ``recovered``."""
    from .backends.local import find_running

    found = find_running(ws.path)
    state: LabState | None = None
    if found is not None:
        state = LabState(backend="local", pg_major=found["pg_major"], port=found["port"], name="lab",
                         bin_dir=found["bin_dir"], recovered=True)
    else:
        try:
            from .backends.docker_backend import DockerBackend

            container = DockerBackend.find_workspace_lab(ws.path)
        except (LabkitError, ImportError):
            container = None
        if container is not None and container.get("port"):
            state = LabState(backend="docker", pg_major=int(container.get("pg_major") or 16),
                             port=int(container["port"]), name=container.get("lab") or "lab",
                             image=container.get("image"), recovered=True)
    if state is not None:
        say(f"state.json was missing or damaged; found the {state.backend} server on port {state.port} "
            "and recorded it again")
        ws.save(state)
    return state


def why_unusable(ws: Workspace, state: LabState) -> str | None:
    """Why a recovered Docker lab cannot be used again, or None when it can.

    Only Docker's admin channel needs a password (a local lab's admin connects over its Unix socket), and
    that password exists only in ``secrets/``. Checked before anything would create a new secret, since a
    new one would never match the container's."""
    if state.recovered and state.backend == "docker" and not (ws.secrets_dir / ADMIN_SECRET).is_file():
        return (f"the Docker lab found for this workspace (port {state.port}) was created with passwords "
                f"that are no longer in {str(ws.secrets_dir)!r} (the workspace was deleted or emptied while "
                "its container was kept)")
    return None
