"""Audit several targets, each in its own thread (bounded), and gather one report for all of them.

Per target the recipe is: look from outside, look from inside, run the profile's checks on what was seen.
A target that cannot be reached at all (no TCP answer, or the given role cannot log in) is a *connection
error*: its checks say "not measurable" and the run exits 2, because a report that silently lacks a server
is worse than none.
"""
from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from . import checks, inside, outside
from .checks import FAIL, VERDICTS, CheckResult, Context
from .profiles import Profile
from .targets import Target

MAX_PARALLEL = 4
"""Targets audited at once: each scan opens up to two connections at a time, so this bounds the load."""
SCHEMA_VERSION = 1

EXIT_PASSED, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


@dataclass
class TargetReport:
    target: Target
    checks: list[CheckResult]
    outside: outside.OutsideView
    inside: inside.InsideView
    seconds: float
    error: str | None = None

    @property
    def counts(self) -> Counter[str]:
        return Counter(check.verdict for check in self.checks)

    def as_json(self, now: dt.datetime) -> dict[str, Any]:
        return {
            "name": self.target.name, "target": self.target.display, "host": self.target.host,
            "address": self.target.address, "port": self.target.port,
            "root": str(self.target.root) if self.target.root else None,
            "status": "error" if self.error else "ok", "error": self.error, "seconds": round(self.seconds, 3),
            "summary": {verdict: self.counts.get(verdict, 0) for verdict in VERDICTS},
            "checks": [check.as_json() for check in self.checks],
            "outside": self.outside.as_json(now), "inside": self.inside.as_json(),
        }


@dataclass
class AuditReport:
    profile: Profile
    targets: list[TargetReport]
    started: dt.datetime
    seconds: float = 0.0
    files: dict[str, str] = field(default_factory=dict)

    @property
    def counts(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for target in self.targets:
            total.update(target.counts)
        return total

    @property
    def exit_code(self) -> int:
        """0 every check passed (warnings allowed), 1 a check failed, 2 a target could not be audited."""
        if any(target.error for target in self.targets):
            return EXIT_ERROR
        return EXIT_FAILED if self.counts.get(FAIL) else EXIT_PASSED

    def as_json(self) -> dict[str, Any]:
        from ..report import labkit_version

        return {
            "schema_version": SCHEMA_VERSION, "tool": "labkit audit", "labkit_version": labkit_version(),
            "generated": self.started.isoformat(timespec="seconds"), "seconds": round(self.seconds, 3),
            "profile": {"name": self.profile.name, "title": self.profile.title, "min_tls": self.profile.min_tls,
                        "reference": self.profile.reference},
            "exit_code": self.exit_code,
            "summary": {verdict: self.counts.get(verdict, 0) for verdict in VERDICTS},
            "targets": [target.as_json(self.started) for target in self.targets],
        }


def audit_target(target: Target, profile: Profile, *, now: dt.datetime | None = None) -> TargetReport:
    """Both views of one server and the profile's checks on them."""
    start = time.perf_counter()
    seen_outside = outside.observe(target, profile)
    reached = seen_outside.ssl_request in ("S", "N")
    seen_inside = inside.observe(target) if reached else inside.InsideView(error="the server did not answer")
    error = None
    if not reached:
        error = seen_outside.ssl_request
    elif target.user is not None and not seen_inside.connected:
        error = f"the inside view could not log in as {target.user!r}: {seen_inside.error}"
    ctx = Context(target, profile, seen_outside, seen_inside, now or dt.datetime.now(dt.timezone.utc))
    results = checks.run_checks(ctx)
    return TargetReport(target, results, seen_outside, seen_inside, time.perf_counter() - start, error)


def audit(targets: Sequence[Target], profile: Profile, *, parallel: int = MAX_PARALLEL) -> AuditReport:
    """Audit every target, at most ``parallel`` at a time, keeping the order they were given in."""
    started = dt.datetime.now(dt.timezone.utc)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(targets))),
                            thread_name_prefix="labkit-audit") as pool:
        reports = list(pool.map(lambda t: audit_target(t, profile, now=started), targets))
    return AuditReport(profile, reports, started, time.perf_counter() - start)
