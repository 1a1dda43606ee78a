"""How long one attempt() takes on loopback: connect, collect the TLS facts, wait for the log, classify.

Why measure: a lesson cell runs a dozen attempts, and the sslmode matrix runs six per server state, so an
attempt must stay well under the 100 ms a reader notices. Two cases, 20 runs each, medians printed:

- success: sslmode=verify-full with a client certificate, then pg_stat_ssl + sslinfo queries;
- refused: a revoked client certificate -- the slow path, because the backend logs the failed handshake a
  few ms after the client gave up, and attempt() waits (bounded) for that line.

Also printed, for scale: a bare psycopg.connect()+close() with the same parameters.

Run: ``PYTHONPATH=. python benchmarks/bench_attempt.py [--pg 16] [--runs 20]``. Exits 1 if a median is
above the target, so it can guard CI.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from labkit.client import attempt
from labkit.pki import LabPKI
from labkit.server import LabServer

TARGET_MS = 100.0


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    fn()  # warm-up: first connection pays for imports, DNS, OpenSSL initialisation
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def line(name: str, samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=10)
    return (f"{name:<34} median {statistics.median(samples):7.2f} ms   min {min(samples):7.2f}   "
            f"p90 {q[-1]:7.2f}   max {max(samples):7.2f}   (n={len(samples)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", type=int, default=16, help="PostgreSQL major version (default 16)")
    parser.add_argument("--runs", type=int, default=20, help="attempts per case (default 20)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-attempt-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        pki = LabPKI.ensure(root / "pki")
        p = pki.paths
        lab = LabServer.up(root / "lab", backend="local", pg_version=args.pg)
        try:
            lab.set_settings({"ssl_cert_file": lab.deliver("server-chain.crt", p.server_chain_crt, 0o644),
                              "ssl_key_file": lab.deliver("server.key", p.server_key, 0o600),
                              "ssl_ca_file": lab.deliver("combined.crt", p.combined_crt, 0o644),
                              "ssl_crl_file": lab.deliver("combined.crl", p.combined_crl, 0o644)})
            assert lab.reload().ok
            full: dict[str, Any] = {"sslmode": "verify-full", "sslrootcert": p.root_crt, "sslcert": p.client_crt,
                                    "sslkey": p.client_key}
            ok = attempt(lab, **full)
            bad = attempt(lab, sslmode="require", sslcert=p.revoked_client_crt, sslkey=p.revoked_client_key)
            assert ok.connected and bad.error_key == "cert_revoked", (ok.error_text, bad.error_text)
            print(f"PostgreSQL {ok.server_version} on {lab.host}:{lab.port}, {ok.tls_version} {ok.cipher}")
            bare: dict[str, Any] = {k: str(v) for k, v in lab.conninfo(**full).items()}
            results = {
                "bare psycopg connect (success)": timed(lambda: psycopg.connect(**bare).close(), args.runs),
                "attempt() success": timed(lambda: attempt(lab, **full), args.runs),
                "attempt() refused (revoked cert)": timed(
                    lambda: attempt(lab, sslmode="require", sslcert=p.revoked_client_crt,
                                    sslkey=p.revoked_client_key), args.runs),
            }
        finally:
            lab.down()
    for name, samples in results.items():
        print(line(name, samples))
    worst = max(statistics.median(s) for n, s in results.items() if n.startswith("attempt"))
    verdict = "OK" if worst <= TARGET_MS else "TOO SLOW"
    print(f"target: median <= {TARGET_MS:.0f} ms per attempt -> {verdict}")
    return 0 if worst <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
