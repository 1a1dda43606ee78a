"""Issue 11's speed figures in one run, each printed beside its reference (the target or the alternative).

Measured, median of --runs each where it is cheap:
- local lab up -> first TLS query (labkit, this user: root runs the server as ``labkit``)   target <= 0.35 s
- Docker lab up -> first TLS query (labkit, an image present)                              target <= 1.5 s
  beside a plain ``docker run`` of the same image until a query answers, and testcontainers'
  PostgresContainer on it (the ``bench`` extra; skipped, saying why, when absent)
- kernel start: a python3 kernel until ``import labkit as lk, pandas`` has run, cold (a new interpreter)
  and warm (a fork of labkit's zygote, the default)                                        (reference: cold)
- ``labkit matrix``: cold (empty cache folder) and cached                                 targets <= 180 s, <= 30 s
- with --course: every lesson with ``labkit run -j 2`` (and -j 1 with --course-serial)       target <= 60 s
- with --suite: ``./lab test``, the whole suite                                            target <= 300 s

Run as the user who runs the course:  python benchmarks/bench_speed.py [--runs 5] [--course] [--course-serial] [--suite]
(LABKIT_IMAGE picks the Docker image; default labkit/postgres:16-offline.)
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from bench_startup import _tmp  # noqa: I001 - the benchmarks folder is the script's own
from bench_startup import labkit_once as labkit_up  # same measurement: up, one TLS query, down
from labkit.kernels import IpcKernelManager
from labkit.ports import choose_port

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = ROOT / "notebooks"  # where lesson kernels start
IMAGE = os.environ.setdefault("LABKIT_IMAGE", "labkit/postgres:16-offline")  # the Docker backend's image


def _median(runs: int, once: Callable[[], float]) -> str:
    samples = [once() for _ in range(runs)]
    return f"{statistics.median(samples):.3f} s  (runs: {', '.join(f'{s:.2f}' for s in samples)})"


def _wait_query(port: int, password: str, deadline: float, user: str = "postgres",
                dbname: str = "postgres") -> None:
    while True:
        try:
            with psycopg.connect(host="127.0.0.1", port=port, user=user, password=password,
                                 dbname=dbname, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def plain_docker_run() -> float:
    """``docker run -d -e POSTGRES_PASSWORD -p 127.0.0.1:PORT:5432 IMAGE`` until a query answers (no TLS:
    the official image starts with ssl = off)."""
    import docker

    client = docker.from_env()
    password, port = secrets.token_urlsafe(16), choose_port(None)
    started = time.perf_counter()
    container = client.containers.run(IMAGE, detach=True, environment={"POSTGRES_PASSWORD": password},
                                      ports={"5432/tcp": ("127.0.0.1", port)})
    try:
        _wait_query(port, password, time.monotonic() + 60)
        return time.perf_counter() - started
    finally:
        container.remove(force=True, v=True)


def testcontainers_start() -> float:
    """testcontainers' PostgresContainer on the same image, its port bound to 127.0.0.1 only.

    Its own readiness check runs ``psql`` inside the container, which the offline image does not have, so
    readiness is measured as for ``docker run``: a query from this host until one answers.
    """
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # its reaper image cannot be pulled here
    from testcontainers.community.postgres import PostgresContainer

    class HostQueryReady(PostgresContainer):
        def _connect(self) -> None:
            """Readiness is the host-side query below (the image has no psql for testcontainers' exec)."""

    started = time.perf_counter()
    container = HostQueryReady(IMAGE, driver=None, password=secrets.token_urlsafe(12))
    # Loopback only, like every lab (testcontainers publishes on every address by default, and its
    # with_bind_ports takes no address): the docker SDK's (address, port) form.
    container.ports["5432"] = ("127.0.0.1", choose_port(None))  # type: ignore[assignment]
    with container as pg:
        port = int(pg.get_exposed_port(5432))
        _wait_query(port, pg.password, time.monotonic() + 60, user=pg.username, dbname=pg.dbname)
        return time.perf_counter() - started


def kernel_start(warm: bool) -> float:
    """A kernel as labkit run starts them (Unix-socket channels, :mod:`labkit.kernels`) until it has run
    the imports every lesson's first cell makes: warm, a fork of the zygote that imported them once (labkit's
    default; the zygote is started by a first kernel not counted here); cold, a new interpreter
    (``LABKIT_WARM_KERNELS=0``)."""
    os.environ["LABKIT_WARM_KERNELS"] = "1" if warm else "0"
    started = time.perf_counter()
    manager = IpcKernelManager(kernel_name="python3")
    # In a folder of its own, as a lesson's is: from the repository root, its labkit/ folder would shadow
    # the installed one, and labkit then starts the kernel the ordinary way (labkit.kernels).
    manager.start_kernel(cwd=str(NOTEBOOKS_DIR))
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    try:
        reply = client.execute_interactive("import labkit as lk, pandas", timeout=60)
        assert reply["content"]["status"] == "ok", reply
        return time.perf_counter() - started
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def matrix_timings() -> tuple[str, str]:
    cache = _tmp()
    env = {**os.environ, "LABKIT_MATRIX_CACHE": str(cache)}
    times = []
    for _ in range(2):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "labkit", "matrix", "--json"], env=env,
                              capture_output=True, text=True, timeout=900, check=False)
        times.append(time.perf_counter() - started)
        if done.returncode not in (0, 1):
            raise RuntimeError(done.stderr[-400:])
    servers = len(list(cache.glob("*.json")))
    shutil.rmtree(cache, ignore_errors=True)
    return (f"{times[0]:.1f} s for {servers} servers", f"{times[1]:.1f} s")


def course(jobs: int) -> str:
    """``labkit run -j N`` over every lesson, local backend; the count and the slowest lessons come from the
    run's own results.json."""
    out = _tmp()
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "labkit", "run", "-j", str(jobs), "--backend", "local",
                           "--notebooks-dir", str(ROOT / "notebooks"), "--out", str(out / "report")],
                          capture_output=True, text=True, timeout=1800, check=False)
    elapsed = time.perf_counter() - started
    try:
        results = json.loads((out / "report" / "results.json").read_text())
        summary = results["summary"]
        slowest = sorted(results["lessons"], key=lambda lesson: -lesson["duration_s"])[:3]
        detail = (f"{summary['passed']}/{summary['total']} lessons passed; slowest "
                  + ", ".join(f"{lesson['name'][:2]} {lesson['duration_s']:.1f} s" for lesson in slowest))
    except (OSError, ValueError, KeyError):
        detail = f"exit {done.returncode}: {done.stderr.strip()[-200:]}"
    shutil.rmtree(out, ignore_errors=True)
    return f"{elapsed:.1f} s ({detail})"


def suite() -> str:
    """``./lab test`` as the README gives it (this interpreter's virtualenv), start to end."""
    env = {**os.environ, "LABKIT_VENV": sys.prefix}
    started = time.perf_counter()
    done = subprocess.run([str(ROOT / "lab"), "test", "-q", "--timeout", "600"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=7200, check=False)
    elapsed = time.perf_counter() - started
    last = (done.stdout.strip().splitlines() or ["no output"])[-1].strip("= ")
    return f"{elapsed:.0f} s ({last})"


def _guarded(what: Callable[[], str]) -> str:
    try:
        return what()
    except Exception as exc:  # noqa: BLE001 - a benchmark row says why it has no figure
        return f"skipped: {type(exc).__name__}: {' '.join(str(exc).split())[:110]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--course", action="store_true", help="also time the course with labkit run -j 2")
    parser.add_argument("--course-serial", action="store_true", help="and with -j 1, for comparison")
    parser.add_argument("--suite", action="store_true", help="also time ./lab test (about 9 minutes quiet on 2 cores)")
    args = parser.parse_args()
    who = "root (server as labkit)" if os.geteuid() == 0 else "a normal user"
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load {load:.1f}, as {who}; image {IMAGE}; {args.runs} runs each\n")
    labkit_up("local")  # the initdb template is made once per installation: every later lab finds it
    rows = [("local up -> first TLS query", _guarded(lambda: _median(args.runs, lambda: labkit_up("local"))),
             "target <= 0.35 s")]
    from labkit.backends.docker_backend import DockerBackend

    answers, why = DockerBackend.engine_status()
    if answers and DockerBackend.image_available(IMAGE):
        rows += [("docker up -> first TLS query (labkit)",
                  _guarded(lambda: _median(args.runs, lambda: labkit_up("docker"))), "target <= 1.5 s"),
                 ("plain docker run -> first query (no TLS)",
                  _guarded(lambda: _median(args.runs, plain_docker_run)), "alternative"),
                 ("testcontainers PostgresContainer -> first query",
                  _guarded(lambda: _median(args.runs, testcontainers_start)), "alternative")]
    else:
        rows.append(("docker rows", f"skipped: {why if not answers else IMAGE + ' is not present'}", ""))
    rows.append(("kernel start + import labkit, pandas (cold)",
                 _guarded(lambda: _median(3, lambda: kernel_start(False))), "a new interpreter per lesson"))
    kernel_start(True)  # the zygote's own start, paid once per process
    rows.append(("kernel start + import labkit, pandas (warm)",
                 _guarded(lambda: _median(3, lambda: kernel_start(True))), "a lesson pays it once (labkit's default)"))
    cold_cached = matrix_timings()
    rows += [("labkit matrix, cold cache", cold_cached[0], "target <= 180 s"),
             ("labkit matrix, cached", cold_cached[1], "target <= 30 s")]
    if args.course:
        rows.append(("course, labkit run -j 2", _guarded(lambda: course(2)), "target <= 60 s"))
    if args.course_serial:
        rows.append(("course, labkit run -j 1", _guarded(lambda: course(1)), "reference: one after another"))
    if args.suite:
        rows.append(("./lab test", _guarded(suite), "target <= 300 s"))
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    for name, value, reference in rows:
        print(f"{name:<{width}}  {value:<{value_width}}  {reference}")


if __name__ == "__main__":
    main()
