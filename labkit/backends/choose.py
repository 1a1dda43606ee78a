"""Which backend runs a lab, and building it from the recorded state.

``auto`` means Docker when an engine answers and the image is there (or can be pulled), else local
binaries, unless the ``LABKIT_BACKEND`` variable says ``local`` or ``docker``; the reason is returned so
the user is told why.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .. import validate
from ..errors import DockerUnavailable
from ..workspace import ADMIN_SECRET, LabState, Workspace
from .base import Backend, ServerSpec

Progress = Callable[[str], None]


def default_image(pg_major: int) -> str:
    """The Docker image for a major version: LABKIT_IMAGE if set, else the official postgres:N."""
    return os.environ.get("LABKIT_IMAGE") or f"postgres:{pg_major}"


def resolved_backend(requested: str) -> str:
    """``requested``; for ``auto``, what ``LABKIT_BACKEND`` says ``auto`` means on this machine (``local`` or
    ``docker``, e.g. local for one of the suite's two editions), checked like ``--backend``."""
    requested = validate.backend(requested)
    preferred = os.environ.get("LABKIT_BACKEND", "").strip()
    return validate.backend(preferred, "LABKIT_BACKEND") if requested == "auto" and preferred else requested


def choose_backend(requested: str, pg_major: int, image: str | None, progress: Progress) -> tuple[str, str]:
    """Resolve ``auto``: Docker when an engine answers and the image is there or can be pulled, else local."""
    requested = validate.backend(requested)
    if requested != "auto":
        return requested, "asked for"
    if (preferred := resolved_backend(requested)) != "auto":
        return preferred, f"LABKIT_BACKEND={preferred}"
    from .docker_backend import DockerBackend

    answers, why = DockerBackend.engine_status()
    if not answers:
        return "local", f"no Docker engine ({why})"
    image = image or default_image(pg_major)
    if DockerBackend.image_available(image):
        return "docker", f"Docker engine answers and {image} is present"
    try:
        DockerBackend.ensure_image(image, progress)
    except DockerUnavailable as exc:
        return "local", f"Docker engine answers but {image} cannot be had ({exc.message})"
    return "docker", f"Docker engine answers; pulled {image}"


def make_backend(state: LabState, workspace: Workspace) -> Backend:
    spec = ServerSpec(name=state.name, workspace=workspace.path, pg_major=state.pg_major, port=state.port,
                      superuser_password=workspace.secret("postgres-password"),
                      admin_password=workspace.secret(ADMIN_SECRET),
                      image=state.image, bin_dir=Path(state.bin_dir) if state.bin_dir else None)
    if state.backend == "docker":
        from .docker_backend import DockerBackend

        return DockerBackend(spec)
    from .local import LocalBackend

    return LocalBackend(spec)
