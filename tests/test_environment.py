"""labkit.environment: the one save/restore of process environment variables."""
from __future__ import annotations

import os

import pytest

from labkit.environment import temporary_environment


def test_set_and_unset_then_everything_is_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_T_KEEP", "old")
    monkeypatch.setenv("LABKIT_T_GONE", "there")
    monkeypatch.delenv("LABKIT_T_NEW", raising=False)
    with temporary_environment({"LABKIT_T_KEEP": "new", "LABKIT_T_NEW": "1"}, unset=["LABKIT_T_GONE"]):
        assert os.environ["LABKIT_T_KEEP"] == "new" and os.environ["LABKIT_T_NEW"] == "1"
        assert "LABKIT_T_GONE" not in os.environ
    assert os.environ["LABKIT_T_KEEP"] == "old" and os.environ["LABKIT_T_GONE"] == "there"
    assert "LABKIT_T_NEW" not in os.environ


def test_restored_even_when_the_block_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABKIT_T_X", raising=False)
    with pytest.raises(RuntimeError), temporary_environment({"LABKIT_T_X": "1"}):
        raise RuntimeError("boom")
    assert "LABKIT_T_X" not in os.environ


def test_nested_uses_unwind_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_T_N", "0")
    with temporary_environment({"LABKIT_T_N": "1"}):
        with temporary_environment({"LABKIT_T_N": "2"}):
            assert os.environ["LABKIT_T_N"] == "2"
        assert os.environ["LABKIT_T_N"] == "1"
    assert os.environ["LABKIT_T_N"] == "0"
