"""Lessons side by side (`labkit run -j N`): each in its own worker process, with its own kernel, lab and port.

Why: a lesson spends most of its 5-10 s starting a kernel, importing and waiting on its server, so on two
cores two lessons at once nearly halve the series. Why processes and not threads: a lesson's kernel
inherits the environment the runner sets around its start (``LABKIT_REPORT_FACTS``, ``PYTHONPATH``), which
is one per process. Each lesson gets its own lab: without a ``workspace`` parameter ``lesson.begin`` takes
the first free course workspace (``course``, ``course-2``, ...; they are locked), and a given workspace
becomes one subfolder per lesson; ports are chosen per lab as always. Outputs are what the lesson alone
would print, so the compared cells (nbval's, the report's key results) read the same as a series run.

Ctrl-C or SIGTERM: every running worker is told to stop (SIGTERM, which papermill turns into shutting its
kernel down), the labs those lessons started are stopped, and the lessons not started are ``not_run``.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import AbstractContextManager
from pathlib import Path

from .errors import InvalidValue
from .run_results import LessonResult

MAX_JOBS = 16


def check_jobs(value: object, name: str = "--jobs") -> int:
    """A number of lessons at once, 1 to :data:`MAX_JOBS` (more than the lab ports and cores make sense for)."""
    if isinstance(value, bool) or not str(value).strip().isdigit() or not 1 <= int(str(value)) <= MAX_JOBS:
        raise InvalidValue(name, value, f"an integer from 1 to {MAX_JOBS}",
                           f"this machine has {os.cpu_count() or '?'} cores; -j {os.cpu_count() or 2} is a good start")
    return int(str(value))


def lesson_params(params: Mapping[str, object], nb_path: Path) -> dict[str, object]:
    """The parameters of one lesson run beside others: a given workspace becomes ``<workspace>/<lesson>``."""
    given = params.get("workspace")
    if isinstance(given, (str, Path)) and str(given):
        return {**params, "workspace": str(Path(given).expanduser() / nb_path.stem)}
    return dict(params)


def _stop_on_sigterm() -> None:
    """Worker set-up: SIGTERM raises KeyboardInterrupt (papermill then shuts the kernel down); Ctrl-C at the
    terminal reaches the kernels directly, the parent decides what happens to the workers."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_side_by_side(nb_paths: Sequence[Path], *, params: Mapping[str, object], out_dir: Path, kernel_name: str,
                     timeout_per_cell: int, jobs: int, run_one: Callable[..., LessonResult],
                     interrupted: Callable[[Path, Mapping[str, object], Path, float], LessonResult],
                     shielded: Callable[[], AbstractContextManager[None]],
                     on_done: Callable[[LessonResult], None],
                     on_running: Callable[[list[str]], None] = lambda _names: None,
                     ) -> tuple[list[LessonResult], list[str]]:
    """Run ``nb_paths`` ``jobs`` at a time; (results in the given order, lessons not run after an interrupt).

    The runner hands in its own routines (this module never imports it): ``run_one`` runs one lesson in a
    worker (a module-level function, so it travels to a spawned process), ``interrupted`` describes a
    lesson stopped by a signal and stops its lab, ``shielded`` ignores further signals while that happens.
    ``on_done`` is called in the parent as each lesson finishes (progress, HTML rendering).
    """
    results: dict[Path, LessonResult] = {}
    running: dict[Future[LessonResult], tuple[Path, float]] = {}
    queue = list(nb_paths)
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads (the renderer's)
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_stop_on_sigterm)
    try:
        while queue or running:
            while queue and len(running) < jobs:
                nb_path = queue.pop(0)
                future = pool.submit(run_one, nb_path, params=lesson_params(params, nb_path), out_dir=out_dir,
                                     kernel_name=kernel_name, timeout_per_cell=timeout_per_cell)
                running[future] = (nb_path, time.time())
            on_running([path.stem for path, _ in running.values()])
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                nb_path, _started = running.pop(future)
                results[nb_path] = future.result()
                on_done(results[nb_path])
    except KeyboardInterrupt:
        with shielded():  # a second Ctrl-C must not leave servers running
            for process in list(getattr(pool, "_processes", {}).values()):  # the pool has no public terminate
                if process.is_alive():
                    process.terminate()
            pool.shutdown(wait=True, cancel_futures=True)
            for nb_path, started in running.values():
                results[nb_path] = interrupted(nb_path, lesson_params(params, nb_path), out_dir, started)
        ordered = [results[p] for p in nb_paths if p in results]
        return ordered, [p.stem for p in queue]
    pool.shutdown(wait=True)
    return [results[p] for p in nb_paths], []


__all__ = ["MAX_JOBS", "check_jobs", "lesson_params", "run_side_by_side"]
