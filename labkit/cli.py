"""The `labkit` command: start, inspect and stop lab servers; install PostgreSQL; run the course."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from . import binaries, paths, validate
from .errors import LabkitError
from .server import LabServer
from .workspace import Workspace, registered_workspaces


def _progress(message: str) -> None:
    print(f"labkit: {message}", file=sys.stderr, flush=True)


def cmd_up(args: argparse.Namespace) -> int:
    lab = LabServer.up(args.workspace, backend=args.backend, pg_version=args.pg_version, port=args.port,
                       progress=_progress)
    facts = lab.facts()
    print(f"PostgreSQL {facts['server_version']} ({facts['backend']}) is up on {lab.host}:{lab.port}, ssl={facts['ssl']}")
    print(f"workspace: {lab.workspace.path}")
    print("connect with:")
    print(f'  psql "{lab.dsn(sslmode="require")}"')
    lab.close()
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    try:
        lab = LabServer.attach(args.workspace)
    except LabkitError:
        info = {"running": False, "workspace": str(Workspace(args.workspace or paths.default_workspace()).path),
                "backend": None, "server_version": None, "host": None, "port": None, "dsn": None}
    else:
        info = lab.status()
        lab.close()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        for key, value in info.items():
            print(f"{key:>16}: {value}")
    return 0 if info["running"] else 3


def _down_one(workspace: Path | str | None) -> bool:
    try:
        lab = LabServer.attach(workspace)
    except LabkitError:
        return False
    lab.down()
    _progress(f"stopped and removed the {lab.state.backend} lab in {lab.workspace.path}")
    return True


def cmd_down(args: argparse.Namespace) -> int:
    if not args.all:
        if not _down_one(args.workspace):
            _progress("no lab recorded in that workspace; nothing to stop")
        return 0
    count = sum(_down_one(ws) for ws in registered_workspaces())
    try:
        from .backends.docker_backend import DockerBackend

        answers, _ = DockerBackend.engine_status()
        leftovers = DockerBackend.find_labs() if answers else []
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
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    """A fresh workspace: the server and the PKI are thrown away and a new lab is started."""
    import shutil

    ws = Workspace(args.workspace or paths.default_workspace())
    _down_one(ws.path)
    shutil.rmtree(ws.pki_dir, ignore_errors=True)
    return cmd_up(args)


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import run_checks

    table = run_checks(validate.pg_major(args.pg_version))
    print(table.to_string(index=False))
    required = table[~table["item"].str.startswith(("Docker", "psql"))]
    return 0 if (required["status"] == "OK").all() else 1


def cmd_postgres_install(args: argparse.Namespace) -> int:
    inst = binaries.install(validate.pg_major(args.version), _progress)
    print(f"PostgreSQL {inst.version} in {inst.bin_dir} (OpenSSL {inst.openssl_version}, sslinfo {inst.sslinfo})")
    return 0


def cmd_postgres_list(args: argparse.Namespace) -> int:
    import pandas as pd

    rows = [i.as_row() for i in binaries.list_installations()]
    if not rows:
        print("no PostgreSQL installation found; try `labkit postgres install 16`")
        return 1
    table = pd.DataFrame(rows)[["version", "bin_dir", "source", "openssl", "openssl_version", "sslinfo", "problems"]]
    print(table.to_string(index=False))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .runner import cli_run

    return cli_run(args)


def _add_lab_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default="auto", help="auto (default), local or docker")
    parser.add_argument("--pg-version", default="16", help="PostgreSQL major version, 12-17 (default 16)")
    parser.add_argument("--port", type=str, default=None, help="TCP port on 127.0.0.1 (default 5416 or a free one)")
    parser.add_argument("--workspace", default=None, help="lab folder (default under labkit's data dir)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit", description="PostgreSQL TLS hardening lab")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start (or reuse) the lab server with ssl=on")
    _add_lab_options(up)
    up.set_defaults(func=cmd_up)

    status = sub.add_parser("status", help="show the lab server")
    status.add_argument("--json", action="store_true")
    status.add_argument("--workspace", default=None)
    status.set_defaults(func=cmd_status)

    down = sub.add_parser("down", help="stop and remove the lab server (no process or container is left)")
    down.add_argument("--workspace", default=None)
    down.add_argument("--all", action="store_true", help="every lab labkit started on this machine")
    down.set_defaults(func=cmd_down)

    reset = sub.add_parser("reset", help="a fresh workspace: new PKI, new server")
    _add_lab_options(reset)
    reset.set_defaults(func=cmd_reset)

    doctor = sub.add_parser("doctor", help="check the guide's prerequisites")
    doctor.add_argument("--pg-version", default="16")
    doctor.set_defaults(func=cmd_doctor)

    pg = sub.add_parser("postgres", help="manage local PostgreSQL installations")
    pg_sub = pg.add_subparsers(dest="pg_command", required=True)
    install = pg_sub.add_parser("install", help="install PostgreSQL built with OpenSSL into labkit's cache (npm)")
    install.add_argument("version", nargs="?", default="16")
    install.set_defaults(func=cmd_postgres_install)
    listing = pg_sub.add_parser("list", help="every installation found")
    listing.set_defaults(func=cmd_postgres_list)

    run = sub.add_parser("run", help="execute the course notebooks and write an HTML report")
    try:
        from .runner import add_run_arguments
    except ImportError:  # the runner is optional while it is being written
        add_run_arguments = None
    if add_run_arguments is not None:
        add_run_arguments(run)
    run.set_defaults(func=cmd_run)

    from .audit.cli import add_audit_parser
    add_audit_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "port", None) is not None and args.func in (cmd_up, cmd_reset):
            args.port = validate.port(args.port, "--port")
        return int(args.func(args))
    except LabkitError as exc:
        print(f"labkit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
