"""The ``labkit run`` command line: arguments, checks of the user's input, the summary and exit codes.

The series itself is :func:`labkit.runner.run_series`; the report is :mod:`labkit.report`. This module only
turns a command line into those calls (the same shape as :mod:`labkit.audit.cli` for ``labkit audit``).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

from . import i18n, report, validate
from .errors import InvalidValue, LabkitError
from .lesson_files import (
    check_parameters,
    convert_cli_value,
    discover_notebooks,
    load_param_file,
    read_parameters,
)
from .parallel import check_jobs
from .run_results import SeriesResult
from .runner import (
    EXIT_INTERRUPTED,
    FORWARDED_ONLY_IF_DECLARED,
    _ignoring_interrupts,
    gather_environment,
    run_series,
)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``labkit run``'s arguments on the lead's sub-parser."""
    parser.add_argument("notebooks", nargs="*", metavar="NOTEBOOK|GLOB",
                        help="lessons to run: file name, path, glob such as '1*', or number (default: all)")
    parser.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), default=None,
                        help="set a lesson parameter; numbers, True/False/None are converted like papermill -p")
    parser.add_argument("-f", "--param-file", metavar="PARAMS.YAML", default=None,
                        help="YAML mapping of parameters (-p wins over it)")
    parser.add_argument("--backend", choices=validate.BACKENDS, default=None,
                        help="server backend, passed to the lessons that declare 'backend'")
    parser.add_argument("--pg-version", metavar="N", default=None,
                        help="PostgreSQL major version, passed to the lessons that declare 'pg_version'")
    parser.add_argument("-j", "--jobs", metavar="N", default="1",
                        help="run N lessons at once, each with its own kernel, lab and port (default 1)")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="report folder (default: reports/<UTC timestamp>/)")
    parser.add_argument("--notebooks-dir", metavar="DIR", default=None,
                        help="folder holding the NN_*.ipynb lessons (default: the course's notebooks/)")
    parser.add_argument("--lang", choices=i18n.LANGUAGES, default="en",
                        help="edition: 'es' runs the Spanish notebooks (the course's es/ folder unless "
                             "--notebooks-dir is given) and writes the report in Spanish (default: en)")


def cli_run(args: argparse.Namespace) -> int:
    """``labkit run``: 0 when every lesson passed, 1 when any failed, 2 for bad input (nothing ran), 130 when
    interrupted by SIGINT/SIGTERM (the report of what ran is still written)."""
    try:
        jobs = check_jobs(args.jobs)
        lang = i18n.check_language(args.lang, name="--lang")
        nb_paths = discover_notebooks(_notebooks_dir(args.notebooks_dir, lang), list(args.notebooks or []))
        user_params = _user_parameters(args.param, args.param_file)
        check_parameters(nb_paths, user_params)
        params = {**user_params, **_forwarded_options(args.backend, args.pg_version)}
        _warn_undeclared_options(nb_paths, params, user_params)
        out_dir = report.prepare_out_dir(Path(args.out) if args.out else _default_out_dir())
    except LabkitError as exc:
        print(f"labkit run: {exc}", file=sys.stderr)
        return 2
    result = run_series(nb_paths, params=params, out_dir=out_dir, jobs=jobs, lang=lang)
    try:
        if result.interrupted:  # the user asked to stop: the report of what ran is written in one go
            with _ignoring_interrupts():
                files = report.write_outputs(result, result.out_dir, gather_environment(result))
        else:
            files = report.write_outputs(result, result.out_dir, gather_environment(result))
    except LabkitError as exc:
        print(f"labkit run: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED if result.interrupted else 1
    _print_summary(result, files["html"], lang)
    if result.interrupted:
        return EXIT_INTERRUPTED
    return 0 if result.all_passed else 1


def _notebooks_dir(given: str | None, lang: str = "en") -> Path:
    """``--notebooks-dir`` when given, else the course installed with labkit (the wheel's package data, or
    ``notebooks/`` of the source checkout) in the edition ``lang``, so ``labkit run`` works from any
    directory."""
    if given is not None:
        if not given.strip():
            raise InvalidValue("--notebooks-dir", given, "a folder holding NN_*.ipynb lessons")
        return Path(given).expanduser()
    from .bundled_course import course_dir

    return course_dir(lang)


def _user_parameters(pairs: Sequence[Sequence[str]] | None, param_file: str | None) -> dict[str, object]:
    """``-f`` first, then each ``-p`` on top, as papermill layers them."""
    params: dict[str, object] = load_param_file(Path(param_file).expanduser()) if param_file else {}
    for name, value in pairs or []:
        if not name.isidentifier():
            raise InvalidValue("parameter name", name, "a Python identifier", "use the name from the lesson")
        params[name] = convert_cli_value(value)
    return params


def _forwarded_options(backend: str | None, pg_version: str | None) -> dict[str, object]:
    """``--backend``/``--pg-version``, checked now so a typo fails before the first lesson."""
    options: dict[str, object] = {}
    if backend is not None:
        options["backend"] = validate.choice("backend", backend, validate.BACKENDS)
    if pg_version is not None:
        options["pg_version"] = validate.pg_major(pg_version)
    return options


def _warn_undeclared_options(nb_paths: Sequence[Path], params: Mapping[str, object],
                             user_params: Mapping[str, object]) -> None:
    """Tell the user when --backend/--pg-version reach no lesson, instead of silently ignoring them."""
    options = [name for name in FORWARDED_ONLY_IF_DECLARED if name in params and name not in user_params]
    if not options:
        return
    declared = set().union(*(read_parameters(p) for p in nb_paths))
    for name in options:
        if name not in declared:
            print(f"labkit run: note: no selected lesson declares {name!r}; --{name.replace('_', '-')} "
                  "has no effect", file=sys.stderr)


def _default_out_dir() -> Path:
    """``reports/<UTC timestamp>/``, with a suffix if two runs start in the same second."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    candidate = Path("reports") / stamp
    suffix = 2
    while candidate.exists():
        candidate = Path("reports") / f"{stamp}-{suffix}"
        suffix += 1
    return candidate


def _print_summary(result: SeriesResult, index: Path, lang: str = "en") -> None:
    """Counts (in the run's edition), then each failure in one line, then the index path last so scripts
    can take it."""
    counts = i18n.phrase("{passed} passed, {failed} failed", lang).format(passed=result.passed, failed=result.failed)
    if result.interrupted:
        counts += f'{i18n.phrase(", interrupted", lang)} {i18n.phrase("({n} not run)", lang).format(n=len(result.not_run))}'
    print(counts)
    for lesson in result.lessons:
        if lesson.error is not None:
            print(f"  FAILED {lesson.name}: {lesson.error.ename}: {lesson.error.evalue}")
    print(f"report: {index}")
