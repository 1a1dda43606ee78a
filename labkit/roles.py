"""Login roles for the lessons, with generated passwords kept in the workspace's secrets.

Why one routine: lessons, scenarios and tests all need "this role exists, can log in, and has a password
nobody typed"; creating it in one place keeps the password out of every notebook and log.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql as pgsql

from .errors import InvalidValue

if TYPE_CHECKING:
    from .server import LabServer

__all__ = ["ensure_role", "role_password"]


def role_password(lab: LabServer, role: str) -> str:
    """The generated password of ``role`` (made on first use, then kept in the workspace secrets).
    ``postgres`` is the lab superuser's. Pass it to attempts; never print it."""
    if not isinstance(role, str) or not role:
        raise InvalidValue("role", role, "a role name such as 'conssl'")
    return lab.workspace.secret("postgres-password" if role == "postgres" else f"role-{role}")


def ensure_role(lab: LabServer, name: str, *, superuser: bool = False) -> str:
    """Create (or refresh) a login role with its generated password; return the password."""
    if not isinstance(superuser, bool):
        raise InvalidValue("superuser", superuser, "True or False")
    password = role_password(lab, name)
    exists = lab.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
    lab.execute(pgsql.SQL("{} ROLE {} LOGIN {} PASSWORD {}").format(
        pgsql.SQL("ALTER" if exists else "CREATE"), pgsql.Identifier(name),
        pgsql.SQL("SUPERUSER" if superuser else "NOSUPERUSER"), pgsql.Literal(password)))
    return password
