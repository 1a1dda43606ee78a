"""What every notebook relies on: parameters checked first, a clean lab, no two lessons sharing one."""
from __future__ import annotations

from pathlib import Path

import pytest

from labkit import lesson as lessons
from labkit.errors import InvalidValue

from .helpers import searchable_tmp


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"backend": "podman"}, "invalid backend: 'podman'"),
        ({"pg_version": "abc"}, "invalid pg_version: 'abc'; allowed: 12-18"),
        ({"key_type": "dsa"}, "invalid key_type: 'dsa'; allowed: 'ecdsa-p256', 'rsa-2048'"),
        ({"keep_server": "yes"}, "invalid keep_server: 'yes'; allowed: True or False"),
    ],
)
def test_bad_parameters_fail_before_anything_starts(tmp_path: Path, kwargs: dict, message: str) -> None:
    workspace = tmp_path / "ws"
    with pytest.raises(InvalidValue, match=message):
        lessons.begin(workspace=workspace, **kwargs)
    assert not workspace.exists()


def test_knob_checks_name_the_parameter() -> None:
    with pytest.raises(InvalidValue, match=r"invalid tls_min: 'TLSv9'; allowed: 'TLSv1', 'TLSv1.1'"):
        lessons.check_choice("tls_min", "TLSv9", lessons.TLS_VERSIONS)
    with pytest.raises(InvalidValue, match="an integer from 1 to 5"):
        lessons.check_int("clients", 9, 1, 5)
    assert lessons.check_int("clients", 3, 1, 5) == 3


def test_a_lesson_starts_clean_and_finishes_without_a_server(tmp_path: Path) -> None:
    workspace = searchable_tmp(tmp_path) / "ws"
    first = lessons.begin(backend="local", workspace=workspace)
    first.lab.set_settings({"ssl_min_protocol_version": "TLSv1.3"})
    first.lab.reload()
    first.lab.close()
    first._release()  # a kernel that died without finish(): the server and its settings stay behind
    second = lessons.begin(backend="local", workspace=workspace)
    try:
        assert second.lab.show("ssl_min_protocol_version") == "TLSv1.2"  # the leftover setting was cleared
        assert set(second.roles) == {"conssl", "reporter"}
        assert second.password("conssl") and second.password("conssl") != "123123"
        with pytest.raises(InvalidValue, match="invalid role: 'nobody'"):
            second.password("nobody")
    finally:
        assert second.finish() == "server stopped and removed"
    assert not second.lab.backend.is_running()


def test_two_open_lessons_get_two_workspaces(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LABKIT_HOME", str(searchable_tmp(tmp_path) / "labs"))
    one = lessons.begin(backend="local")
    two = lessons.begin(backend="local")
    try:
        assert one.lab.workspace.path.name == "course"
        assert two.lab.workspace.path.name == "course-2"
        assert one.lab.port != two.lab.port
    finally:
        one.finish()
        two.finish()
    again = lessons.begin(backend="local")
    try:
        assert again.lab.workspace.path.name == "course"  # released locks are reused
    finally:
        again.finish()
