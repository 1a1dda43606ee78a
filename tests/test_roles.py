"""labkit.roles against a real PostgreSQL 16 lab: one routine makes login roles with generated passwords."""
from __future__ import annotations

import pytest

from labkit import client, roles
from labkit.errors import InvalidValue


def test_ensure_role_creates_then_refreshes(clean_lab16) -> None:
    lab = clean_lab16
    password = roles.ensure_role(lab, "roles_test_user")
    assert password == roles.role_password(lab, "roles_test_user") and len(password) >= 16
    assert client.attempt(lab, sslmode="require", user="roles_test_user", password=password).connected
    assert not client.attempt(lab, sslmode="require", user="roles_test_user", password="wrong-" + password).connected
    assert roles.ensure_role(lab, "roles_test_user", superuser=True) == password  # ALTER, same password
    rows = lab.execute("SELECT rolsuper FROM pg_roles WHERE rolname = 'roles_test_user'")
    assert rows == [{"rolsuper": True}]
    lab.execute("DROP ROLE roles_test_user")


def test_bad_input_is_refused_before_anything_changes(clean_lab16) -> None:
    with pytest.raises(InvalidValue, match="superuser"):
        roles.ensure_role(clean_lab16, "x", superuser="yes")  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match="role"):
        roles.role_password(clean_lab16, "")
