"""``labkit audit TARGET...``: the command line of the audit (argument checks, outputs, exit codes)."""
from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from ..errors import LabkitError
from . import outputs
from .profiles import PROFILES, VERSION_ORDER, check_tls_version, get_profile
from .run import EXIT_ERROR, audit
from .targets import Target, load_targets_file, parse_target, unique_names

HELP = "audit a PostgreSQL server's TLS, read-only: outside view (no credentials) and inside view (a role)"


def add_audit_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Declare ``labkit audit`` on the main parser's sub-commands (the one hook labkit.cli calls)."""
    parser = sub.add_parser("audit", help=HELP, description=HELP + ". Exit 0: every check passed; 1: a check "
                            "failed; 2: bad usage or a target could not be audited.")
    parser.add_argument("targets", nargs="*", metavar="TARGET",
                        help="libpq connection string or URI, e.g. 'host=127.0.0.1 port=5432 user=auditor "
                             "sslmode=verify-full sslrootcert=root.crt' (password: PGPASSWORD or a passfile)")
    parser.add_argument("-f", "--targets-file", metavar="TARGETS.YAML", default=None,
                        help="YAML list of connection strings or {name, dsn, root} mappings")
    parser.add_argument("--root", metavar="FILE", default=None,
                        help="CA bundle to validate the served chain against (default: the target's sslrootcert)")
    parser.add_argument("--profile", default="guide", choices=sorted(PROFILES),
                        help="what hardened means (default: guide)")
    parser.add_argument("--min-tls", default=None, choices=VERSION_ORDER,
                        help="override the profile's TLS floor (PostgreSQL's spelling: TLSv1 is TLS 1.0)")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="report folder (default: reports/audit-<UTC timestamp>/)")
    parser.add_argument("--no-pdf", action="store_true", help="skip report.pdf (it needs Chromium)")
    parser.set_defaults(func=cli_audit)
    return parser


def cli_audit(args: argparse.Namespace) -> int:
    """Check every argument, audit, write the four files, print one line per target, and exit 0/1/2."""
    try:
        targets = _targets(args)
        profile = get_profile(args.profile, check_tls_version(args.min_tls, "--min-tls") if args.min_tls else None)
        out_dir = Path(args.out) if args.out else _default_out_dir()
        from .. import report

        out_dir = report.prepare_out_dir(out_dir)
    except LabkitError as exc:
        print(f"labkit audit: {exc}", file=sys.stderr)
        return EXIT_ERROR
    result = audit(targets, profile)
    try:
        outputs.write_all(result, out_dir, pdf=not args.no_pdf)
    except (LabkitError, OSError) as exc:
        print(f"labkit audit: cannot write the report: {exc}", file=sys.stderr)
        return EXIT_ERROR
    for target in result.targets:
        counts = target.counts
        state = f"ERROR {target.error}" if target.error else \
            f"{counts.get('fail', 0)} failed, {counts.get('warn', 0)} warn, {counts.get('not-measurable', 0)} not measurable, {counts.get('pass', 0)} passed"
        print(f"{target.target.name}: {state}")
        for check in target.checks:
            if check.verdict == "fail":
                print(f"  FAIL {check.id}: {check.evidence}")
    if "pdf_error" in result.files:
        print(f"labkit audit: note: {result.files['pdf_error']}", file=sys.stderr)
    print(f"report: {out_dir / 'index.html'}")
    return result.exit_code


def _targets(args: argparse.Namespace) -> list[Target]:
    root = Path(args.root).expanduser() if args.root else None
    if root is not None and not root.is_file():
        from ..errors import InvalidValue

        raise InvalidValue("--root", str(root), "an existing PEM file of CA certificates")
    targets = [parse_target(text, root=root) for text in args.targets]
    if args.targets_file:
        targets += load_targets_file(Path(args.targets_file).expanduser(), root=root)
    if not targets:
        raise LabkitError("no target given", "name a server: labkit audit 'host=... port=... user=...' or -f targets.yaml")
    return unique_names(targets)


def _default_out_dir() -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path("reports") / f"audit-{stamp}"
