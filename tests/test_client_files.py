"""labkit.client_files: a client's files, laid out as the guide prepares them (no server needed)."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from labkit import client_files
from labkit.errors import InvalidValue
from labkit.pki import LabPKI


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI.ensure(tmp_path_factory.mktemp("client-files-pki"))


def test_lab_home_is_laid_out_with_the_modes_libpq_insists_on(tmp_path: Path, pki: LabPKI) -> None:
    home = client_files.lab_home(tmp_path / "home", pki, root="combined", cert="client")
    dot = home / ".postgresql"
    assert stat.S_IMODE(dot.stat().st_mode) == 0o700
    assert stat.S_IMODE((dot / "postgresql.key").stat().st_mode) == 0o600
    assert (dot / "root.crt").read_bytes() == pki.paths.combined_crt.read_bytes()
    with pytest.raises(InvalidValue, match="root"):
        client_files.lab_home(tmp_path / "home", pki, root="missing")


def test_cert_keywords(pki: LabPKI) -> None:
    assert client_files.cert_keywords(pki, "revoked_client") == {"sslcert": pki.paths.revoked_client_crt,
                                                                 "sslkey": pki.paths.revoked_client_key}
    assert client_files.cert_keywords(pki, None) == {}
    with pytest.raises(InvalidValue, match="stem"):
        client_files.cert_keywords(pki, "server_chain")


def test_key_copies(tmp_path: Path, pki: LabPKI) -> None:
    open_key = client_files.key_copy(pki.paths.client_key, tmp_path / "k.key", 0o644)
    assert stat.S_IMODE(open_key.stat().st_mode) == 0o644
    locked = client_files.encrypted_key_copy(pki.paths.client_key, tmp_path / "e.key", "s3cret-phrase")
    assert b"ENCRYPTED" in locked.read_bytes() and stat.S_IMODE(locked.stat().st_mode) == 0o600
