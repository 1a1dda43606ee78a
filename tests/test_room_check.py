"""`labkit check`: the whole chain (doctor, a lab, a TLS connection, a layer, a lesson) in under a minute
here, and a clear FAIL naming what is missing where neither PostgreSQL nor Docker can be had."""
from __future__ import annotations

import json
from pathlib import Path

from .helpers import labkit, postgres_processes_for, searchable_tmp


def test_check_passes_here_in_under_a_minute_and_leaves_no_server(tmp_path: Path) -> None:
    workspace = searchable_tmp(tmp_path / "ws")
    out = tmp_path / "summary.json"
    done = labkit("check", "--backend", "local", "--workspace", str(workspace), "--out", str(out), timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("labkit check: OK in ") and str(out) in lines[0]
    summary = json.loads(out.read_text())
    assert summary["ok"] is True and summary["seconds"] < 60
    assert [(s["name"], s["status"]) for s in summary["steps"]] == [
        ("doctor", "OK"), ("lab up", "OK"), ("TLS connection", "OK"), ("one layer", "OK"), ("one lesson", "OK")]
    assert summary["facts"]["tls_version"] in ("TLSv1.2", "TLSv1.3") and summary["facts"]["backend"] == "local"
    assert "no_hba_no_encryption" in summary["steps"][3]["detail"]
    assert postgres_processes_for(str(workspace)) == []


def test_check_fails_clearly_without_postgresql_and_docker(tmp_path: Path) -> None:
    """LABKIT_PG_BIN at an empty folder, an empty labkit cache (no npm build), pg_config's PostgreSQL 15 is
    not the asked 16, and DOCKER_HOST at a socket nobody listens on: nothing can run a lab."""
    empty_bin, empty_cache = tmp_path / "bin", tmp_path / "cache"
    empty_bin.mkdir()
    empty_cache.mkdir()
    out = tmp_path / "summary.json"
    env = {"LABKIT_PG_BIN": str(empty_bin), "LABKIT_CACHE": str(empty_cache),
           "DOCKER_HOST": f"unix://{tmp_path / 'dead.sock'}"}
    done = labkit("check", "--workspace", str(tmp_path / "ws"), "--out", str(out), env=env, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    line = done.stdout.strip()
    assert line.startswith("labkit check: FAIL in ") and "doctor: no PostgreSQL 16 built with OpenSSL" in line
    assert "no Docker engine either" in line and "dead.sock" in line
    assert "missing: PostgreSQL 16 built with OpenSSL and sslinfo (local), Docker engine" in line
    summary = json.loads(out.read_text())
    assert summary["ok"] is False
    assert [s["status"] for s in summary["steps"]] == ["FAIL", "SKIPPED", "SKIPPED", "SKIPPED", "SKIPPED"]


def test_check_refuses_a_bad_option_before_anything_runs(tmp_path: Path) -> None:
    done = labkit("check", "--pg-version", "16.4", "--workspace", str(tmp_path / "ws"))
    assert done.returncode == 2 and "16.4" in done.stderr
    assert not (tmp_path / "ws").exists()
