"""`labkit check`: the whole chain on this machine in under a minute -- the thing to run the day before a
workshop.

Why: ``labkit doctor`` says which parts are installed; it cannot say that they work together. An instructor
with a room of laptops needs one command per laptop that proves the course will run there -- the
prerequisites, a lab server started, a TLS connection verified against the lab root, one hardening layer
applied and measured, one lesson executed -- and answers with one line (OK or FAIL and what is missing) and a
JSON file to collect. Every step is a real observation (the check connects, it does not read versions and
guess); a step whose prerequisite failed is reported as skipped, never as passed.
"""
from __future__ import annotations

import json
import platform
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__, paths, validate
from .errors import LabkitError
from .i18n import phrase

if TYPE_CHECKING:
    from .pki import LabPKI
    from .server import LabServer

__all__ = ["CheckReport", "Step", "run_check"]

DEFAULT_LESSON = "20_verify_ca"  # one of the shortest lessons (about 4 s measured), and it needs TLS to work
BUDGET_SECONDS = 60.0


@dataclass
class Step:
    """One link of the chain: passed, failed or skipped, how long it took, what was seen."""

    name: str
    status: str  # "OK", "FAIL" or "SKIPPED"
    seconds: float = 0.0
    detail: str = ""


@dataclass
class CheckReport:
    """Everything `labkit check` found, as the JSON an instructor collects from each laptop."""

    ok: bool
    seconds: float
    host: str
    platform: str
    labkit_version: str
    steps: list[Step] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def line(self, lang: str = "en") -> str:
        """The one line printed: OK with the time, or FAIL naming what failed and what is missing; in
        ``lang`` (``labkit check --lang es``; step names and details stay as measured)."""
        if self.ok:
            return phrase("labkit check: OK in {seconds} s ({steps}; {backend} backend, PostgreSQL {version})",
                          lang).format(seconds=f"{self.seconds:.1f}", steps=", ".join(s.name for s in self.steps),
                                       backend=self.facts.get("backend", "?"),
                                       version=self.facts.get("server_version", "?"))
        failed = [f"{s.name}: {s.detail}" for s in self.steps if s.status == "FAIL"]
        missing = f"{phrase('; missing: ', lang)}{', '.join(self.missing)}" if self.missing else ""
        return phrase("labkit check: FAIL in {seconds} s -- {failed}{missing}", lang).format(
            seconds=f"{self.seconds:.1f}", failed=" | ".join(failed), missing=missing)

    def as_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str)


class _Failed(Exception):
    """A step's own failure, with the words to show for it."""


def _doctor(major: int, context: dict[str, Any]) -> str:
    """Prerequisites: everything required, or -- without a local PostgreSQL -- a Docker engine instead."""
    from .doctor import OPTIONAL_PREFIXES, run_checks

    checks = run_checks(major).to_dict("records")
    missing = [c for c in checks if c["status"] != "OK"]
    docker_ok = any(c["item"].startswith("Docker") and c["status"] == "OK" for c in checks)
    required = [c for c in missing if not c["item"].startswith(OPTIONAL_PREFIXES)]
    server_only = all("PostgreSQL" in c["item"] or "server" in c["item"] or "sslinfo" in c["item"] for c in required)
    context["missing"] = [c["item"] for c in missing if not c["item"].startswith("psql")]
    if required and not (server_only and docker_ok):
        said = [f"{_first_line(c['found'])} (fix: {c['fix']})" for c in required]
        docker = next((c for c in missing if c["item"].startswith("Docker")), None)
        if docker is not None:
            said.append(f"no Docker engine either ({_first_line(docker['found'])})")
        raise _Failed("; ".join(said))
    if required:
        return "no usable local PostgreSQL; the Docker engine answers and will run the lab"
    return "every required item is there" + ("" if docker_ok else " (Docker: not available, optional)")


def _first_line(text: object) -> str:
    """The gist of a doctor finding (its first line, without the list of places checked that follows)."""
    return str(text).strip().splitlines()[0].split("; checked")[0].rstrip(":; ") if str(text).strip() else ""


def _lab_up(context: dict[str, Any]) -> str:
    from .server import LabServer

    lab = LabServer.up(context["workspace"], backend=context["backend"], pg_version=context["major"],
                       install_missing=False)
    context["lab"] = lab
    facts = lab.facts()
    context["facts"] = {k: facts.get(k) for k in ("backend", "server_version", "ssl_library", "server_openssl")}
    return f"PostgreSQL {facts['server_version']} ({facts['backend']}) on {lab.host}"


def _tls(context: dict[str, Any]) -> str:
    from . import layers, transaction
    from .client import attempt
    from .pki import LabPKI

    lab: LabServer = context["lab"]
    lab.reset_config()
    pki = LabPKI.ensure(lab.workspace.pki_dir)
    context["pki"] = pki
    applied = transaction.apply(lab, layers.layer_ssl_on(pki, cert="server_chain"))
    if not applied.ok:
        raise _Failed(f"the server refused the lab certificate: {applied.reason}")
    result = attempt(lab, label="check", sslmode="verify-full", sslrootcert=pki.paths.root_crt)
    if not result.connected or result.pg_stat_ssl.get("ssl") is not True:
        raise _Failed(f"verify-full connection failed: {result.outcome}: {result.error_text.strip()[:200]}")
    context["facts"].update(tls_version=result.tls_version, cipher=result.cipher)
    return (f"verify-full against the lab root: {result.tls_version}, the server's pg_stat_ssl row says "
            f"ssl={result.pg_stat_ssl.get('ssl')}")


def _layer(context: dict[str, Any]) -> str:
    from . import layers, transaction
    from .client import attempt

    lab: LabServer = context["lab"]
    pki: LabPKI = context["pki"]
    applied = transaction.apply(lab, layers.layer_hostssl("scram-sha-256", ("postgres",)))
    if not applied.ok:
        raise _Failed(f"pg_hba.conf change refused: {applied.reason}")
    plain = attempt(lab, label="plaintext", sslmode="disable")
    tls = attempt(lab, label="tls", sslmode="verify-full", sslrootcert=pki.paths.root_crt)
    lab.reset_config()
    lab.reload()
    if plain.connected or plain.error_key != "no_hba_no_encryption" or not tls.connected:
        raise _Failed(f"layer 3 (hostssl) measured plaintext={plain.outcome}, TLS={tls.outcome}; expected "
                      "no_hba_no_encryption and a TLS session")
    return f"layer 3 (hostssl): plaintext refused ({plain.error_key}), TLS connected ({tls.tls_version})"


def _lesson(context: dict[str, Any]) -> str:
    import papermill

    from .bundled_course import course_dir
    from .kernels import NOTEBOOK_KERNEL_MANAGER
    from .notebook_engine import ENGINE_NAME

    source = course_dir() / f"{context['lesson']}.ipynb"
    if not source.is_file():
        raise _Failed(f"lesson {source.name} is not in {course_dir()}")
    lab: LabServer = context["lab"]
    with tempfile.TemporaryDirectory(prefix="labkit-check-") as scratch:
        papermill.execute_notebook(
            str(source), str(Path(scratch) / source.name), kernel_name="python3", progress_bar=False,
            kernel_manager_class=NOTEBOOK_KERNEL_MANAGER, engine_name=ENGINE_NAME,
            cwd=str(source.parent), parameters={"workspace": str(lab.workspace.path), "keep_server": True,
                                                "backend": lab.state.backend, "pg_version": lab.state.pg_major})
    return f"{source.name} ran to its last cell, every assert held"


STEPS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("doctor", lambda context: _doctor(context["major"], context)),
    ("lab up", _lab_up),
    ("TLS connection", _tls),
    ("one layer", _layer),
    ("one lesson", _lesson),
)


def run_check(*, backend: str = "auto", pg_version: object = 16, workspace: Path | str | None = None,
              lesson: str = DEFAULT_LESSON, keep_server: bool = False) -> CheckReport:
    """Run every step in order (a step after a failure is skipped), stop the lab, return the report."""
    context: dict[str, Any] = {"backend": validate.backend(backend), "major": validate.pg_major(pg_version),
                               "workspace": Path(workspace) if workspace else paths.default_workspace("check"),
                               "lesson": lesson, "facts": {}, "missing": []}
    started = time.perf_counter()
    steps: list[Step] = []
    failed = False
    try:
        for name, run in STEPS:
            if failed:
                steps.append(Step(name, "SKIPPED", detail="an earlier step failed"))
                continue
            step_started = time.perf_counter()
            try:
                detail, status = run(context), "OK"
            except _Failed as exc:
                detail, status = str(exc), "FAIL"
            except LabkitError as exc:
                detail, status = exc.message + (f" (hint: {exc.hint})" if exc.hint else ""), "FAIL"
            except Exception as exc:  # noqa: BLE001 - a room check reports every failure, it does not crash
                detail, status = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc) else ''}", "FAIL"
            failed = status == "FAIL"
            steps.append(Step(name, status, round(time.perf_counter() - step_started, 2), detail))
    finally:
        lab = context.get("lab")
        if lab is not None and keep_server:
            lab.close()
        elif lab is not None:
            lab.down()
    seconds = round(time.perf_counter() - started, 2)
    ok = not failed and seconds < BUDGET_SECONDS
    if not failed and not ok:
        steps.append(Step("time budget", "FAIL", seconds, f"took {seconds:.0f} s, more than {BUDGET_SECONDS:.0f} s"))
    return CheckReport(ok=ok, seconds=seconds, host=socket.gethostname(), platform=platform.platform(),
                       labkit_version=__version__, steps=steps, facts=context["facts"], missing=context["missing"])


def default_summary_path() -> Path:
    """``labkit-check-<host>.json`` in the current folder: one file per laptop, easy to collect."""
    return Path.cwd() / f"labkit-check-{socket.gethostname()}.json"
