"""The `labkit` command follows the conventions of command-line tools, checked on the real command.

--version, --json, help for every option, 100 columns, NO_COLOR and non-terminals, short errors with the
detail under --verbose, exit codes 0/1/2/3, and bad values refused before anything is created.
"""
from __future__ import annotations

import argparse
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from labkit import __version__
from labkit.cli import build_parser

from .helpers import labkit

ANSI = re.compile(r"\x1b\[[0-9;]*m")
WIDE = {"COLUMNS": "250"}  # a wide terminal must not make labkit write wider than 100 columns


def _all_parsers(parser: argparse.ArgumentParser, path: str = "labkit") -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _all_parsers(child, f"{path} {name}")
    return found


def test_version() -> None:
    done = labkit("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"labkit {__version__} (pgtls-lab)"


def test_every_option_of_every_command_has_help() -> None:
    missing = [f"{path}: {'/'.join(action.option_strings) or action.dest}"
               for path, parser in _all_parsers(build_parser())
               for action in parser._actions
               if not isinstance(action, argparse._SubParsersAction) and not (action.help or "").strip()]
    assert missing == []
    assert len(_all_parsers(build_parser())) >= 10  # up status down reset doctor postgres(install list) init run


def test_doctor_json_is_valid_and_matches_the_exit_code() -> None:
    done = labkit("doctor", "--json")
    report = json.loads(done.stdout)
    assert {"pg_major", "ok", "checks"} <= set(report)
    items = {c["item"]: c for c in report["checks"]}
    assert items["OpenSSL in the server (>= 1.1.1)"]["status"] == "OK"
    assert items["sslinfo extension available"]["status"] == "OK"
    assert done.returncode == (0 if report["ok"] else 1)
    # the same, piped through python -m json.tool as the README shows
    tool = subprocess.run([sys.executable, "-m", "json.tool"], input=done.stdout, capture_output=True, text=True,
                          timeout=30)
    assert tool.returncode == 0


def test_postgres_list_json_names_the_course_builds() -> None:
    done = labkit("postgres", "list", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    majors = {row["major"]: row for row in rows if row["suitable"]}
    assert {15, 16} <= set(majors)
    assert all(row["openssl"] and row["sslinfo"] and row["problems"] == [] for row in majors.values())


@pytest.mark.parametrize("argv", [("doctor",), ("postgres", "list"), ("--help",), ("up", "--help"),
                                  ("run", "--help"), ("status", "--workspace", "/tmp/labkit-no-lab-here")])
def test_text_output_fits_100_columns(argv: tuple[str, ...]) -> None:
    done = labkit(*argv, env=WIDE)
    assert done.returncode in (0, 1, 3), done.stderr
    lines = (done.stdout + done.stderr).splitlines()
    assert lines
    too_wide = [line for line in lines if len(ANSI.sub("", line)) > 100]
    assert too_wide == []


def _on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``argv`` with stdout and stderr on a pseudo-terminal; return its exit code and what it wrote."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    code = proc.wait(timeout=120)
    os.close(leader)
    return code, b"".join(chunks).decode(errors="replace")


def test_colour_on_a_terminal_only_and_never_with_no_color() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.pop("TERM", None)
    doctor = [sys.executable, "-m", "labkit", "doctor"]
    _, coloured = _on_a_terminal(doctor, {**env, "TERM": "xterm"})
    assert ANSI.search(coloured), coloured[:300]
    _, plain = _on_a_terminal(doctor, {**env, "TERM": "xterm", "NO_COLOR": "1"})
    assert "OpenSSL" in plain and not ANSI.search(plain)
    piped = labkit("doctor", env={"TERM": "xterm"})
    assert piped.stdout and not ANSI.search(piped.stdout + piped.stderr)


def test_lab_script_colours_only_a_terminal_without_no_color() -> None:
    root = Path(__file__).resolve().parent.parent
    piped = subprocess.run(["bash", str(root / "lab"), "no-such-command"], capture_output=True, text=True,
                           timeout=30, env={**os.environ, "TERM": "xterm"})
    assert piped.returncode == 2 and piped.stderr.startswith("[lab] usage: ./lab report")
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    lab = ["bash", str(root / "lab"), "no-such-command"]
    code, coloured = _on_a_terminal(lab, {**env, "TERM": "xterm"})
    assert code == 2 and ANSI.search(coloured)
    code, plain = _on_a_terminal(lab, {**env, "TERM": "xterm", "NO_COLOR": "1"})
    assert code == 2 and "[lab] usage:" in plain and not ANSI.search(plain)


@pytest.mark.parametrize(("argv", "named"), [
    (("up", "--port", "abc"), "invalid --port: 'abc'"),
    (("up", "--port", "80"), "invalid --port: '80'"),
    (("up", "--pg-version", "16.99"), "invalid pg_version: '16.99'"),
    (("up", "--pg-version", "11"), "invalid pg_version: '11'"),
    (("up", "--backend", "vm"), "invalid backend: 'vm'"),
    (("up", "--workspace", ""), "invalid --workspace: ''"),
    (("down", "--workspace", ""), "invalid --workspace: ''"),
    (("status", "--workspace", " "), "invalid --workspace: ' '"),
    (("doctor", "--pg-version", "16.4"), "invalid pg_version: '16.4'"),
    (("postgres", "install", "9.6"), "invalid version: '9.6'"),
])
def test_bad_values_are_usage_errors_naming_the_value(argv: tuple[str, ...], named: str, tmp_path: Path) -> None:
    env = {"LABKIT_HOME": str(tmp_path / "home"), "LABKIT_CACHE": str(tmp_path / "cache")}
    done = labkit(*argv, env=env)
    assert done.returncode == 2, done.stderr
    assert named in done.stderr
    assert "allowed:" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "home").exists() and not (tmp_path / "cache").exists()  # nothing was created


def test_argparse_usage_errors_exit_2() -> None:
    assert labkit("up", "--no-such-option").returncode == 2
    assert labkit("up", "--backend", "vm").returncode == 2
    assert labkit().returncode == 2  # no command


def test_status_exits_3_when_no_lab_runs(tmp_path: Path) -> None:
    done = labkit("status", "--json", "--workspace", str(tmp_path / "nothing"))
    assert done.returncode == 3
    assert json.loads(done.stdout)["running"] is False


def test_runtime_failure_is_short_exit_1_and_detailed_with_verbose(tmp_path: Path) -> None:
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    short = labkit("up", "--backend", "docker", "--workspace", str(tmp_path / "ws"), env=env)
    assert short.returncode == 1
    assert "the Docker engine does not answer" in short.stderr
    assert "(No such file or directory)" in short.stderr
    assert "FileNotFoundError(" not in short.stderr and "Traceback" not in short.stderr
    assert "--verbose" in short.stderr
    verbose = labkit("up", "--backend", "docker", "--workspace", str(tmp_path / "ws"), "--verbose", env=env)
    assert verbose.returncode == 1
    assert "Traceback" in verbose.stderr and "FileNotFoundError" in verbose.stderr


def test_init_copies_the_course_and_never_overwrites_without_force(tmp_path: Path) -> None:
    dest = tmp_path / "course"
    done = labkit("init", str(dest))
    assert done.returncode == 0, done.stderr
    lessons = sorted(p.name for p in dest.glob("[0-9][0-9]_*.ipynb"))
    shipped = sorted(p.name for p in (Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert lessons == shipped and len(lessons) >= 19
    assert (dest / "sanitize.cfg").is_file()
    (dest / lessons[0]).write_text("my edits")
    again = labkit("init", str(dest))
    assert again.returncode == 1 and "--force" in again.stderr
    assert (dest / lessons[0]).read_text() == "my edits"
    forced = labkit("init", str(dest), "--force")
    assert forced.returncode == 0 and (dest / lessons[0]).read_text() != "my edits"
    assert labkit("init", "").returncode == 2
