"""How long applying a server layer takes, end to end (validate, deliver, write, reload, check, track).

Why measure it: the lessons apply and revert layers many times per notebook, and a participant should see
the effect of a change "at once". The target is a median of at most 300 ms per layer applied by reload.
A layer that the server rejects costs a second reload (the rollback), so that case is measured too.

Run:  PYTHONPATH=. python benchmarks/bench_layers.py [--versions 16 15] [--rounds 30]
Starts throwaway local labs in a temporary workspace and removes them afterwards.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from labkit import layers as L, transaction as T
from labkit.errors import LabkitError
from labkit.pki import LabPKI
from labkit.server import LabServer

TARGET_MS = 300.0


def _timed(fn: Callable[[], T.ApplyResult], rounds: int, expect_ok: bool) -> list[float]:
    """Milliseconds per call; checks each result so a silent failure cannot look fast."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
        if result.ok != expect_ok:
            raise SystemExit(f"unexpected result: {result.summary().to_string()}")
    return times


def _row(label: str, times: list[float]) -> str:
    ordered = sorted(times)
    p90 = ordered[max(0, int(round(0.9 * len(ordered))) - 1)]
    return f"  {label:<44} median {statistics.median(times):7.1f} ms   p90 {p90:7.1f} ms   max {max(times):7.1f} ms"


def bench(version: int, rounds: int, root: Path) -> bool:
    workspace = root / f"lab{version}"
    workspace.mkdir(mode=0o755)
    workspace.chmod(0o755)
    lab = LabServer.up(workspace, backend="local", pg_version=version)
    try:
        pki = LabPKI.ensure(root / "pki")
        facts = lab.facts()
        print(f"PostgreSQL {facts['server_version']} (server OpenSSL {facts['server_openssl']}), {rounds} rounds")
        l1, l2, l4, l6 = L.layer_ssl_on(pki), L.layer_protocols(), L.layer_ciphers(), L.layer_ca(pki)
        guide = L.guide_layers(pki)
        bad = L.layer_protocols("TLSv1.3", "TLSv1.2", unchecked=True)
        results = {
            "apply L2 (settings only)": _timed(lambda: T.apply(lab, l2), rounds, True),
            "revert L2": _timed(lambda: T.revert(lab, l2), rounds, True),
            "apply L1 (2 files + 3 settings)": _timed(lambda: T.apply(lab, l1), rounds, True),
            "apply L4 + L6": _timed(lambda: T.apply(lab, l4, l6), rounds, True),
            "apply L3 (pg_hba)": _timed(lambda: T.apply(lab, guide[2]), rounds, True),
            "apply all six guide layers at once": _timed(lambda: T.apply(lab, *guide), rounds, True),
            "rejected layer (reload + rollback reload)": _timed(lambda: T.apply(lab, bad), rounds, False),
        }
        for label, times in results.items():
            print(_row(label, times))
        single = [t for k, v in results.items() if k.startswith("apply L") for t in v]
        median = statistics.median(single)
        verdict = "meets" if median <= TARGET_MS else "MISSES"
        print(f"  => one layer by reload: median {median:.1f} ms, {verdict} the {TARGET_MS:.0f} ms target\n")
        return median <= TARGET_MS
    finally:
        lab.down()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, nargs="+", default=[16, 15])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-layers-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        for version in args.versions:
            try:
                ok = bench(version, args.rounds, root) and ok
            except LabkitError as exc:
                print(f"PostgreSQL {version}: skipped ({exc.message})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
