"""Time from `labkit up` to the first TLS query, local and Docker, against pytest-postgresql's executor.

Median of N runs (default 5) each:
- labkit local: LabServer.up (template copy + start + readiness) then one query over sslmode=require; then down.
- labkit docker: the same with the Docker backend (image already present); skipped with a reason otherwise.
- pytest-postgresql: PostgreSQLExecutor on the same binaries (initdb + pg_ctl start), then one TLS query
  is impossible there (it starts without ssl), so we time its start + one plain query: the floor it offers.
- raw floor: initdb + pg_ctl start + one TLS query + stop by hand.

Run: python benchmarks/bench_startup.py [--runs 5]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from labkit import binaries
from labkit.backends.local import server_account
from labkit.server import LabServer, choose_port


def _tmp() -> Path:
    path = Path(tempfile.mkdtemp(prefix="labkit-bench-"))
    path.chmod(0o755)
    return path


def labkit_once(backend: str) -> float:
    workspace = _tmp()
    started = time.perf_counter()
    lab = LabServer.up(workspace, backend=backend)
    with psycopg.connect(lab.dsn(sslmode="require")) as conn:
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0]
    elapsed = time.perf_counter() - started
    lab.down()
    shutil.rmtree(workspace, ignore_errors=True)
    return elapsed


def pytest_postgresql_once(bin_dir: Path) -> float:
    try:
        from pytest_postgresql.executors.proc import PostgreSQLExecutor
    except ImportError:  # pytest-postgresql < 7
        from pytest_postgresql.executor import PostgreSQLExecutor  # type: ignore[no-redef]

    account = server_account()
    if account.pw_uid != os.geteuid():
        raise RuntimeError("pytest-postgresql cannot run the server as root's stand-in account; "
                           "run this benchmark as a normal user to compare")
    workspace = _tmp()
    port = choose_port(None)
    executor = PostgreSQLExecutor(executable=str(bin_dir / "pg_ctl"), host="127.0.0.1", port=port,
                                  datadir=str(workspace / "data"), unixsocketdir=str(workspace),
                                  logfile=str(workspace / "log"), startparams="-w", dbname="postgres")
    started = time.perf_counter()
    executor.start()
    with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres") as conn:
        conn.execute("SELECT 1")
    elapsed = time.perf_counter() - started
    executor.stop()
    shutil.rmtree(workspace, ignore_errors=True)
    return elapsed


def median_of(runs: int, once: Callable[[], float]) -> tuple[float, list[float]]:
    samples = [once() for _ in range(runs)]
    return statistics.median(samples), samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    inst = binaries.find(16)
    print(f"PostgreSQL {inst.version} from {inst.bin_dir}; {args.runs} runs each; seconds to first TLS query\n")
    rows: list[tuple[str, str]] = []
    LabServer.up(_tmp(), backend="local").down()  # warm the initdb template, as any second lab would find it
    med, samples = median_of(args.runs, lambda: labkit_once("local"))
    rows.append(("labkit local (target <= 1.0 s)", f"{med:.3f}  ({', '.join(f'{s:.2f}' for s in samples)})"))
    try:
        from labkit.backends.docker_backend import DockerBackend

        answers, why = DockerBackend.engine_status()
        image = os.environ.get("LABKIT_IMAGE", "postgres:16")
        if answers and DockerBackend.image_available(image):
            med, samples = median_of(args.runs, lambda: labkit_once("docker"))
            rows.append((f"labkit docker, {image} (target <= 3 s)",
                         f"{med:.3f}  ({', '.join(f'{s:.2f}' for s in samples)})"))
        else:
            rows.append(("labkit docker", f"skipped: {why if not answers else image + ' not present'}"))
    except ImportError as exc:
        rows.append(("labkit docker", f"skipped: {exc}"))
    try:
        med, samples = median_of(args.runs, lambda: pytest_postgresql_once(inst.bin_dir))
        rows.append(("pytest-postgresql executor (no TLS)", f"{med:.3f}  ({', '.join(f'{s:.2f}' for s in samples)})"))
    except RuntimeError as exc:
        rows.append(("pytest-postgresql executor", f"skipped: {exc}"))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
