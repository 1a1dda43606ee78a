"""The `labkit` command: start, inspect and stop lab servers; install PostgreSQL; copy and run the course.

Conventions (README, "The labkit command"): ``--version``; ``--json`` wherever a script may read the
answer; text output wrapped to 100 columns; colour only on a terminal and never with ``NO_COLOR``; one
short error message with a hint, the cause and traceback under ``--verbose``. Exit codes: 0 ok,
1 runtime failure, 2 usage error (bad option or value, nothing was changed), 3 not running (``status``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__, binaries, i18n, paths, terminal, validate
from .errors import InvalidValue, LabkitError
from .i18n import LANGUAGES, phrase
from .terminal import paint, wrap

if TYPE_CHECKING:
    from .pki import LabPKI
    from .server import LabServer

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_NOT_RUNNING = 0, 1, 2, 3
EXIT_INTERRUPTED = 130


def _progress(message: str) -> None:
    print(wrap(message, indent=8, first="labkit: "), file=sys.stderr, flush=True)


def _json(data: object) -> None:
    print(json.dumps(data, indent=2, default=str))


# -- lab lifecycle -----------------------------------------------------------------------------------
def _lab_pki_and_layer1(lab: LabServer) -> LabPKI:
    """Give the lab the course PKI and serve its server chain (layer 1), so a client that trusts only the
    lab root can use ``sslmode=verify-full``. Returns the PKI.

    The layer is applied on every `up`, also to a reused lab (a reload, about 10 ms): the PKI may have been
    regenerated since (it is when it nears expiry), and the server must present the current chain.
    """
    from . import layers, transaction
    from .pki import LabPKI

    pki = LabPKI.ensure(lab.workspace.pki_dir)
    result = transaction.apply(lab, layers.layer_ssl_on(pki, cert="server_chain"))
    if not result.ok:
        raise LabkitError("the server refused the lab certificate: " + "; ".join(result.problems[:3]),
                          "`labkit reset` makes a fresh PKI and server")
    return pki


def verify_full_dsn(lab: LabServer, root_crt: Path) -> str:
    """The lab's DSN with ``sslmode=verify-full`` and the lab root as the only trusted certificate."""
    return lab.dsn(sslmode="verify-full", sslrootcert=str(root_crt))


def cmd_up(args: argparse.Namespace) -> int:
    from .server import LabServer

    # Checked first: a non-root user pointed at root's cache would otherwise fail half-way through initdb.
    paths.ensure_writable(paths.cache_dir(), "labkit's cache", "LABKIT_CACHE")
    lab = LabServer.up(args.workspace, backend=args.backend, pg_version=args.pg_version, port=args.port,
                       progress=_progress, server_lang=args.server_lang)
    try:
        pki = _lab_pki_and_layer1(lab)
        facts = lab.facts()
        dsn = verify_full_dsn(lab, pki.paths.root_crt)
    finally:
        lab.close()
    if args.json:
        _json({**facts, "dsn": dsn, "root_certificate": str(pki.paths.root_crt)})
        return EXIT_OK
    print(wrap(f"PostgreSQL {facts['server_version']} ({facts['backend']}) is up on {lab.host}:{lab.port}, "
               f"ssl={facts['ssl']}, serving the lab server certificate"))
    print(wrap(str(lab.workspace.path), indent=4, first="workspace: "))
    print("connect with (verify-full: the lab root is the only certificate trusted):")
    print(f'  psql "{dsn}"')
    return EXIT_OK


def _pki_dsn(lab: LabServer) -> str | None:
    """The verify-full DSN when this lab serves the PKI (`labkit up` set it up), else None."""
    from . import transaction
    from .pki import PKIPaths

    root = PKIPaths.under(lab.workspace.pki_dir).root_crt
    try:
        served = "L1" in transaction.applied(lab)
    except Exception:  # noqa: BLE001 - status must answer even when the lab is half broken
        served = False
    return verify_full_dsn(lab, root) if served and root.is_file() else None


def cmd_status(args: argparse.Namespace) -> int:
    from .server import LabServer
    from .workspace import Workspace

    try:
        lab = LabServer.attach(args.workspace)
    except LabkitError:
        info: dict[str, Any] = {
            "running": False, "workspace": str(Workspace(args.workspace or paths.default_workspace()).path),
            "backend": None, "server_version": None, "host": None, "port": None, "dsn": None}
    else:
        info = lab.status()
        info["dsn_verify_full"] = _pki_dsn(lab) if info["running"] else None
        lab.close()
    if args.json:
        _json(info)
    else:
        keys = max(len(key) for key in info)
        for key, value in info.items():
            shown = paint(str(value), "ok" if value else "bad") if key == "running" else str(value)
            print(wrap(shown, indent=keys + 2, first=f"{key:>{keys}}: "))
    return EXIT_OK if info["running"] else EXIT_NOT_RUNNING


def _down_one(workspace: Path | str | None) -> bool:
    from .server import LabServer

    try:
        lab = LabServer.attach(workspace)
    except LabkitError:
        return False
    lab.down()
    _progress(f"stopped and removed the {lab.state.backend} lab in {lab.workspace.path}")
    return True


def cmd_down(args: argparse.Namespace) -> int:
    from .workspace import registered_workspaces

    if not args.all:
        if not _down_one(args.workspace):
            _progress("no lab recorded in that workspace; nothing to stop")
        return EXIT_OK
    count = sum(_down_one(ws) for ws in registered_workspaces())
    try:
        from .backends.docker_backend import DockerBackend

        answers, _ = DockerBackend.engine_status()
        leftovers = DockerBackend.find_labs(owner=os.getuid()) if answers else []
    except LabkitError:
        leftovers = []
    for container in leftovers:
        workspace = container.get("workspace") or ""
        if workspace and (Path(workspace) / "state.json").exists():
            continue  # a live lab of another labkit cache (LABKIT_CACHE): not ours to stop
        DockerBackend.remove_container(container["id"])
        _progress(f"removed leftover container {container['name']}")
        count += 1
    _progress(f"{count} lab(s) stopped")
    return EXIT_OK


def cmd_reset(args: argparse.Namespace) -> int:
    """A fresh workspace: the server and the PKI are thrown away and a new lab is started."""
    import shutil

    from .workspace import Workspace

    ws = Workspace(args.workspace or paths.default_workspace())
    _down_one(ws.path)
    shutil.rmtree(ws.pki_dir, ignore_errors=True)
    return cmd_up(args)


# -- machine ------------------------------------------------------------------------------------------
def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import OPTIONAL_PREFIXES, run_checks

    major = validate.pg_major(args.pg_version)
    table = run_checks(major)
    checks = table.to_dict("records")
    required_ok = all(c["status"] == "OK" for c in checks if not c["item"].startswith(OPTIONAL_PREFIXES))
    if args.json:
        _json({"pg_major": major, "ok": required_ok, "checks": checks})
    else:
        for check in checks:
            status = check["status"]
            optional = check["item"].startswith(OPTIONAL_PREFIXES)
            style = "ok" if status == "OK" else ("warn" if optional else "bad")
            print(f"{paint(f'{status:<8}', style)} {check['item']}")
            print(wrap(str(check["found"]), indent=9, first=" " * 9))
            if check["fix"]:
                print(wrap(str(check["fix"]), indent=14, first=" " * 9 + "fix: "))
        verdict = "every required item is there" if required_ok else "something the course needs is missing"
        print(paint(phrase(verdict, args.lang), "ok" if required_ok else "bad"))
    return EXIT_OK if required_ok else EXIT_FAILURE


def cmd_check(args: argparse.Namespace) -> int:
    """`labkit check`: one line OK/FAIL, the JSON summary written to --out (and printed with --json)."""
    from .room_check import default_summary_path, run_check

    report = run_check(backend=args.backend, pg_version=args.pg_version, workspace=args.workspace,
                       lesson=args.lesson, keep_server=args.keep_server)
    out = Path(args.out) if args.out else default_summary_path()
    try:
        out.write_text(report.as_json() + "\n")
        where = f" -> {out}"
    except OSError as exc:
        where = f" (summary not written to {out}: {exc.strerror})"
    if args.json:
        print(report.as_json())
    print(paint(report.line(args.lang), "ok" if report.ok else "bad") + where, file=sys.stderr if args.json else sys.stdout)
    return EXIT_OK if report.ok else EXIT_FAILURE


def cmd_matrix(args: argparse.Namespace) -> int:
    from . import matrix

    majors = [validate.pg_major(v, "--pg-version") for v in args.pg_version] if args.pg_version else None
    result = matrix.run(refresh=args.refresh, cached_only=args.cached_only, docker=not args.no_docker,
                        majors=majors, progress=None if args.json else _progress)
    if args.json:
        _json(result)
    else:
        rows = matrix.table_rows(result)
        for row in rows:  # one block per server: nine servers side by side do not fit a terminal
            print(paint(str(row.pop("server")), "ok"))
            for key, value in row.items():
                print(wrap(str(value), indent=26, first=f"  {key:<22}  "))
        for item in result["skipped"]:
            print(wrap(f"{item['build']}: {item['why']}", indent=4, first="not measured: "))
        for note in result["notes"]:
            print(wrap(note, indent=4, first="note: "))
        print(f"{len(rows)} server(s); cache: {matrix.cache_folder()}")
    return EXIT_OK if result["servers"] and not result["skipped"] else EXIT_FAILURE


def cmd_postgres_install(args: argparse.Namespace) -> int:
    inst = binaries.install(validate.pg_major(args.version, "version"), _progress)
    print(wrap(f"PostgreSQL {inst.version} in {inst.bin_dir} ({inst.openssl_banner or 'OpenSSL unknown'}, "
               f"sslinfo {'yes' if inst.sslinfo else 'no'})", indent=4))
    return EXIT_OK


def cmd_postgres_list(args: argparse.Namespace) -> int:
    found = binaries.list_installations()
    if args.json:
        _json([{**i.as_row(), "problems": list(i.problems), "suitable": i.suitable} for i in found])
        return EXIT_OK if found else EXIT_FAILURE
    if not found:
        print("no PostgreSQL installation found; try `labkit postgres install 16`")
        return EXIT_FAILURE
    for inst in found:
        mark = paint("usable  ", "ok") if inst.suitable else paint("unusable", "bad")
        print(wrap(str(inst.bin_dir), indent=21, first=f"{mark} {inst.version:<10} "))
        print(wrap(f"found via {inst.source}; {inst.openssl_banner or 'OpenSSL none'}; "
                   f"sslinfo {'yes' if inst.sslinfo else 'no'}", indent=21, first=" " * 20))
        if inst.problems:
            print(wrap("; ".join(inst.problems), indent=31, first=" " * 20 + "problems: "))
    return EXIT_OK


# -- the course ---------------------------------------------------------------------------------------
def cmd_init(args: argparse.Namespace) -> int:
    from .bundled_course import init_course

    done = init_course(args.directory, force=args.force, exercises=args.exercises, lang=args.lang)
    print(wrap(f"wrote {len(done.files)} files of the course into {done.dest}"))
    print(wrap(f"open them with: jupyter lab {done.dest}", indent=4))
    print(wrap(f"or run them with: labkit run --notebooks-dir {done.dest}", indent=4))
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from .run_cli import cli_run

    return cli_run(args)


# -- parser -------------------------------------------------------------------------------------------
def _add_lang_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--lang", choices=LANGUAGES, default="en", help=f"{what} in English (default) or Spanish (es)")


def _add_workspace_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", metavar="DIR", default=None,
                        help="lab folder (default: 'default' under labkit's data folder, or LABKIT_HOME)")


def _add_lab_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", metavar="auto|local|docker", default="auto",
                        help="where the server runs: local binaries, a Docker container, or auto (default: "
                             "Docker when an engine answers and the image can be had)")
    parser.add_argument("--pg-version", metavar="N", default="16",
                        help="PostgreSQL major version, 12-18 (default 16); a minor such as 16.4 is refused")
    parser.add_argument("--port", metavar="PORT", default=None,
                        help="TCP port on 127.0.0.1, 1024-65535 (default: 5416, or a free one)")
    parser.add_argument("--server-lang", metavar="en|es", default="en",
                        help="language of the server's own messages (default en; es needs a build with Spanish "
                             "messages, e.g. Debian's 15 with --backend local, and the es_ES.UTF-8 locale)")
    _add_workspace_option(parser)
    parser.add_argument("--json", action="store_true",
                        help="print the lab's facts and its verify-full DSN as JSON instead of text")


def _formatter(prog: str) -> argparse.HelpFormatter:
    """argparse's help, wrapped to the terminal but never past 100 columns (argparse alone follows COLUMNS)."""
    return argparse.HelpFormatter(prog, width=terminal.width(), max_help_position=30)


_COMMON = argparse.ArgumentParser(add_help=False)
_COMMON.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                     help="on an error, also show its cause and the traceback")


def _command(sub: Any, name: str, summary: str, **kwargs: Any) -> argparse.ArgumentParser:
    """A sub-command that takes --verbose too and wraps its help like the main parser."""
    parser: argparse.ArgumentParser = sub.add_parser(name, parents=[_COMMON], formatter_class=_formatter,
                                                     help=summary, **kwargs)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labkit", formatter_class=_formatter,
        description="PostgreSQL TLS hardening lab: real servers, real certificates, measured.",
        epilog="exit codes: 0 ok, 1 failure, 2 usage error, 3 not running (status). NO_COLOR turns colour off.")
    parser.add_argument("--version", action="version", version=f"labkit {__version__} (pgtls-lab)",
                        help="print labkit's version and exit")
    parser.add_argument("-v", "--verbose", action="store_true", default=False,
                        help="on an error, also show its cause and the traceback")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = _command(sub, "up", "start (or reuse) the lab server, TLS with the lab PKI",
                  description="Start (or reuse) the lab server, give it the lab PKI's server certificate "
                              "chain and print a verify-full connection string.")
    _add_lab_options(up)
    up.set_defaults(func=cmd_up)

    status = _command(sub, "status", "show the lab server (exit 3 when not running)")
    status.add_argument("--json", action="store_true", help="print the status as JSON (for scripts)")
    _add_workspace_option(status)
    status.set_defaults(func=cmd_status)

    down = _command(sub, "down", "stop and remove the lab server (no process or container is left)")
    _add_workspace_option(down)
    down.add_argument("--all", action="store_true", help="every lab labkit started on this machine")
    down.set_defaults(func=cmd_down)

    reset = _command(sub, "reset", "a fresh workspace: new PKI, new server")
    _add_lab_options(reset)
    reset.set_defaults(func=cmd_reset)

    doctor = _command(sub, "doctor", "check the guide's prerequisites on this machine")
    doctor.add_argument("--pg-version", metavar="N", default="16",
                        help="PostgreSQL major version to look for, 12-18 (default 16)")
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON (for scripts)")
    _add_lang_option(doctor, "the summary line")
    doctor.set_defaults(func=cmd_doctor)

    check = _command(sub, "check", "the whole chain in under a minute: run it the day before a workshop",
                     description="Check the prerequisites, start a lab, verify a TLS connection, apply one "
                                 "layer and execute one lesson; print one line OK/FAIL and write a JSON summary "
                                 "(default labkit-check-<host>.json here) an instructor can collect.")
    check.add_argument("--backend", metavar="auto|local|docker", default="auto",
                       help="where the check's lab runs (default auto: Docker when an engine answers and the "
                            "image can be had, else local binaries)")
    check.add_argument("--pg-version", metavar="N", default="16", help="PostgreSQL major version (default 16)")
    _add_workspace_option(check)
    check.add_argument("--json", action="store_true",
                       help="print the JSON summary on stdout (the one line goes to stderr)")
    check.add_argument("--lesson", default="20_verify_ca", metavar="NN_NAME",
                       help="the lesson to execute (default 20_verify_ca, about 4 s)")
    check.add_argument("--out", metavar="FILE", default=None, help="where to write the JSON summary")
    check.add_argument("--keep-server", action="store_true", help="leave the check's lab running")
    _add_lang_option(check, "the one line")
    check.set_defaults(func=cmd_check)

    matrix = _command(sub, "matrix", "measure TLS on every PostgreSQL build available here (cached per build)",
                      description="Start one throwaway lab per PostgreSQL build this machine has (labkit's "
                                  "npm builds, distribution packages, Docker images present) and measure the "
                                  "protocol versions accepted at the defaults and with the floor at TLSv1, "
                                  "ssl_min/max_protocol_version, the ssl_* settings, TLS 1.3 suites and groups.")
    matrix.add_argument("--json", action="store_true", help="print the measurements as JSON (for scripts)")
    matrix.add_argument("--refresh", action="store_true", help="measure again, ignoring the cache")
    matrix.add_argument("--cached-only", action="store_true", help="start nothing: report what the cache holds")
    matrix.add_argument("--no-docker", action="store_true", help="leave Docker images out")
    matrix.add_argument("--pg-version", metavar="N", action="append",
                        help="only this major (repeatable; default: every build found, 12-18)")
    matrix.set_defaults(func=cmd_matrix)

    pg = _command(sub, "postgres", "install or list local PostgreSQL builds")
    pg_sub = pg.add_subparsers(dest="pg_command", required=True, metavar="ACTION")
    install = _command(pg_sub, "install", "install PostgreSQL built with OpenSSL into labkit's cache (npm)")
    install.add_argument("version", nargs="?", default="16", metavar="N",
                         help="PostgreSQL major version, 12-18 (default 16)")
    install.set_defaults(func=cmd_postgres_install)
    listing = _command(pg_sub, "list", "every installation found, usable or not")
    listing.add_argument("--json", action="store_true", help="print the installations as JSON (for scripts)")
    listing.set_defaults(func=cmd_postgres_list)

    init = _command(sub, "init", "copy the course notebooks into a folder of yours",
                    description="Copy the course (NN_*.ipynb lessons, sanitize.cfg, AUTHORING.md) that came "
                                "with labkit into DIR, to open in JupyterLab or run with "
                                "`labkit run --notebooks-dir DIR`.")
    init.add_argument("directory", metavar="DIR", help="folder to write the course into (created if missing)")
    init.add_argument("--force", action="store_true", help="overwrite course files already in DIR")
    init.add_argument("--exercises", action="store_true",
                      help="write the blank exercise notebooks (no outputs, no answers) instead of the lessons")
    _add_lang_option(init, "the edition to copy")
    init.set_defaults(func=cmd_init)

    run = _command(sub, "run", "execute the course notebooks and write an HTML report")
    from .run_cli import add_run_arguments

    add_run_arguments(run)
    run.set_defaults(func=cmd_run)

    from .audit.cli import add_audit_parser
    add_audit_parser(sub)
    return parser


def _check_common(args: argparse.Namespace) -> None:
    """Values argparse cannot check by itself, refused before anything changes."""
    if hasattr(args, "workspace"):
        args.workspace = validate.workspace(args.workspace)
    if getattr(args, "port", None) is not None and args.func in (cmd_up, cmd_reset):
        args.port = validate.port(args.port, "--port")
    if args.func in (cmd_up, cmd_reset, cmd_check):
        args.backend = validate.backend(args.backend)
        args.pg_version = validate.pg_major(args.pg_version)
    if getattr(args, "server_lang", None) is not None:
        args.server_lang = i18n.check_language(args.server_lang, name="--server-lang")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # a usage error exits 2 here, with argparse's message
    verbose = bool(getattr(args, "verbose", False))
    try:
        _check_common(args)
        return int(args.func(args))
    except InvalidValue as exc:
        terminal.print_error(exc, verbose=verbose)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `labkit ... | head`: the reader left; say nothing more
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except Exception as exc:  # noqa: BLE001 - every failure becomes one short message (details: --verbose)
        terminal.print_error(exc, verbose=verbose)
        return EXIT_FAILURE


if __name__ == "__main__":
    raise SystemExit(main())
