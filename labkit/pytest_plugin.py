"""A pytest plugin (entry point ``pytest11``) for DBAs who test a PostgreSQL TLS configuration in their own suite.

Why this module exists: pytest-postgresql and testcontainers hand a test a PostgreSQL, but none with TLS
set up, a PKI to verify it with, or a way to say "TLS 1.2 clients must be refused" in one line. With
pgtls-lab installed, any test can ask for:

``labkit_lab``
    A started lab server (:class:`~labkit.server.LabServer`), one per test session, handed to each test
    with labkit's configuration cleared (and cleared again afterwards), so tests do not leak settings.
``labkit_pki``
    The lab PKI (:class:`~labkit.pki.LabPKI`): root and intermediate CA, server and client certificates, CRLs.
``labkit_tls``
    A :class:`TlsAssertions` bound to both: ``labkit_tls.apply(layer, ...)`` applies server layers
    (:mod:`labkit.layers`) and fails the test when the server rejects them; ``labkit_tls.connects(...)`` /
    ``labkit_tls.refused(...)`` try a real libpq connection (:func:`labkit.client.attempt`) and fail with
    what the client and the server log said when the outcome is not the expected one.

Which server: ``--labkit-backend`` / ``--labkit-pg-version`` on the command line, or ``labkit_backend`` /
``labkit_pg_version`` in the ini file (defaults ``auto`` and ``16``). See ``examples/test_my_server_tls.py``.
The plugin imports nothing heavy until a fixture is used, so it costs nothing in suites that do not use it.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .client import AttemptResult
    from .layers import Layer
    from .pki import LabPKI
    from .server import LabServer
    from .transaction import ApplyResult

_BACKENDS = ("auto", "local", "docker")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("labkit", "PostgreSQL TLS lab (pgtls-lab's labkit fixtures)")
    group.addoption("--labkit-backend", choices=_BACKENDS, default=None,
                    help="where the labkit_lab server runs (overrides the labkit_backend ini value; default auto)")
    group.addoption("--labkit-pg-version", metavar="N", default=None,
                    help="PostgreSQL major version of labkit_lab, 12-18 (overrides labkit_pg_version; default 16)")
    parser.addini("labkit_backend", "where the labkit_lab server runs: auto, local or docker", default="auto")
    parser.addini("labkit_pg_version", "PostgreSQL major version of the labkit_lab server", default="16")


def _setting(config: pytest.Config, name: str) -> str:
    given = config.getoption(f"--labkit-{name.replace('_', '-')}")
    return str(given if given is not None else config.getini(f"labkit_{name}"))


def _server_reachable(folder: Path) -> Path:
    """As root the server runs as the unprivileged ``labkit`` account: pytest's tmp folders are 0700, so
    open the path down to the workspace for traversal (nothing in them is secret; keys stay 0600)."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        for path in (folder, *folder.parents):
            if path == Path("/") or path == Path(os.path.expanduser("~")):
                break
            path.chmod(path.stat().st_mode | 0o755)
    return folder


@pytest.fixture(scope="session")
def labkit_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """The session's lab server (started once, stopped and removed at the end of the session)."""
    from . import validate
    from .server import LabServer

    backend = validate.backend(_setting(request.config, "backend"), "labkit_backend")
    major = validate.pg_major(_setting(request.config, "pg_version"), "labkit_pg_version")
    workspace = _server_reachable(tmp_path_factory.mktemp("labkit-lab"))
    lab = LabServer.up(workspace, backend=backend, pg_version=major)
    try:
        yield lab
    finally:
        lab.down()


@pytest.fixture
def labkit_lab(labkit_server: LabServer) -> Iterator[LabServer]:
    """A started lab server with labkit's configuration cleared before and after the test."""
    labkit_server.reset_config()
    labkit_server.reload()
    yield labkit_server
    labkit_server.reset_config()
    labkit_server.reload()


@pytest.fixture(scope="session")
def labkit_pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    """The lab PKI (ECDSA P-256; server names localhost and 127.0.0.1; client roles conssl and reporter)."""
    from .pki import LabPKI

    return LabPKI.ensure(tmp_path_factory.mktemp("labkit-pki"))


@pytest.fixture
def labkit_tls(labkit_lab: LabServer, labkit_pki: LabPKI) -> TlsAssertions:
    """Apply layers and assert connection outcomes against ``labkit_lab`` with ``labkit_pki``."""
    return TlsAssertions(labkit_lab, labkit_pki)


class TlsAssertions:
    """Assertions in the terms a DBA uses: "this configuration is accepted", "this client gets in with TLS
    1.3", "this one is refused". Each failure message carries the evidence (server errors, client
    message, server log lines, the psql command to reproduce it), never just "False is not True"."""

    def __init__(self, lab: LabServer, pki: LabPKI) -> None:
        self.lab = lab
        self.pki = pki

    def apply(self, *layers: Layer) -> ApplyResult:
        """Apply ``layers`` (see :func:`labkit.transaction.apply`); fail the test if the server rejected them."""
        from . import transaction

        result = transaction.apply(self.lab, *layers)
        if not result.ok:
            pytest.fail(f"the server rejected {', '.join(result.layers)}: {result.reason}\n"
                        + "\n".join(result.summary()["detail"].astype(str)), pytrace=False)
        return result

    def verify_full(self) -> dict[str, Any]:
        """Client keywords for ``sslmode=verify-full`` trusting only the lab root."""
        return {"sslmode": "verify-full", "sslrootcert": self.pki.paths.root_crt}

    def attempt(self, **params: Any) -> AttemptResult:
        """One connection attempt (keywords of :func:`labkit.client.attempt`); never fails the test."""
        from .client import attempt

        return attempt(self.lab, **params)

    def connects(self, *, tls_version: str | None = None, **params: Any) -> AttemptResult:
        """Assert that a client with these libpq keywords connects (over ``tls_version`` when given)."""
        result = self.attempt(**params)
        if not result.connected:
            pytest.fail(f"expected a connection, the server or client refused it:\n{_evidence(result)}",
                        pytrace=False)
        if tls_version is not None and result.tls_version != tls_version:
            pytest.fail(f"connected over {result.tls_version}, expected {tls_version}:\n{_evidence(result)}",
                        pytrace=False)
        return result

    def refused(self, *, match: str | None = None, **params: Any) -> AttemptResult:
        """Assert that a client with these keywords is refused; ``match`` is a regular expression that
        the client's error message or the catalogue key of the error must contain."""
        result = self.attempt(**params)
        if result.connected:
            pytest.fail(f"expected a refusal, but it connected ({result.outcome}):\n{_evidence(result)}",
                        pytrace=False)
        if match is not None and not (re.search(match, result.error_text) or
                                      re.search(match, result.error_key or "")):
            pytest.fail(f"refused, but not with {match!r}:\n{_evidence(result)}", pytrace=False)
        return result


def _evidence(result: AttemptResult) -> str:
    entry = result.entry
    lines = [f"  psql: {result.psql}", f"  outcome: {result.outcome}"]
    if result.error_text:
        lines.append(f"  client said: {result.error_text}")
    if result.server_log:
        lines.append("  server log: " + result.server_log.strip().replace("\n", "\n    "))
    if entry is not None:
        lines.append(f"  diagnosis: {entry.fix}")
    return "\n".join(lines)
