"""Debian's psql 15 as a second client against a real lab (labkit.other_clients), with its controls."""
from __future__ import annotations

import pytest

from labkit import other_clients, roles
from labkit.errors import InvalidValue
from labkit.server import LabServer

pytestmark = pytest.mark.skipif(not other_clients.DEBIAN_PSQL.exists(), reason="Debian's psql 15 not installed")


def test_psql_15_connects_and_reports_its_own_openssl(clean_lab16: LabServer) -> None:
    password = roles.ensure_role(clean_lab16, "conssl")
    ok = other_clients.psql_attempt(clean_lab16, user="conssl", password=password, sslmode="require")
    assert ok.connected and ok.message == "", ok
    assert ok.client.startswith("psql 15.") and (ok.openssl or "").startswith("OpenSSL 3.0"), ok
    wrong = other_clients.psql_attempt(clean_lab16, user="conssl", password="not-" + password, sslmode="require")
    assert not wrong.connected and 'password authentication failed for user "conssl"' in wrong.message, wrong
    assert password not in wrong.message and "connection to server at" not in wrong.message


def test_psql_attempt_refuses_a_missing_binary(clean_lab16: LabServer, tmp_path) -> None:
    with pytest.raises(InvalidValue, match="an installed psql"):
        other_clients.psql_attempt(clean_lab16, binary=tmp_path / "psql")
