"""Which account the embedded PostgreSQL runs as: this user, or (as root) an existing unprivileged one."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from pgbe.db.embedded_account import EmbeddedError, server_account


@pytest.fixture
def as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.delenv("EMBEDDED_USER", raising=False)


def test_server_account_not_root_runs_as_this_user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert server_account(tmp_path / "data", None) is None


def test_server_account_root_with_embedded_user_takes_that_account(
    as_root: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EMBEDDED_USER", "nobody")
    account = server_account(tmp_path / "data", None)
    assert account is not None
    assert (account.name, account.uid) == ("nobody", pwd.getpwnam("nobody").pw_uid)


def test_server_account_root_unknown_or_root_account_refused(as_root: None, tmp_path: Path) -> None:
    with pytest.raises(EmbeddedError, match="EMBEDDED_USER=no-such-account-here: no such account"):
        server_account(tmp_path / "data", "no-such-account-here")
    with pytest.raises(EmbeddedError, match="PostgreSQL refuses to run as root"):
        server_account(tmp_path / "data", "root")


def test_server_account_root_in_someones_folder_runs_as_its_owner(
    as_root: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    nobody = pwd.getpwnam("nobody")
    real_stat = Path.stat

    def owned_by_nobody(path: Path, **kwargs: bool) -> os.stat_result:
        result = real_stat(path, **kwargs)
        if path == tmp_path:
            fields = list(result)
            fields[4] = nobody.pw_uid  # st_uid
            return os.stat_result(fields)
        return result

    monkeypatch.setattr(Path, "stat", owned_by_nobody)
    account = server_account(tmp_path / "project" / ".pgbe" / "data", None)
    assert account is not None
    assert account.name == "nobody"


def test_server_account_root_in_a_root_folder_falls_back_to_nobody(
    as_root: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real_stat = Path.stat

    def owned_by_root(path: Path, **kwargs: bool) -> os.stat_result:
        fields = list(real_stat(path, **kwargs))
        fields[4] = 0
        return os.stat_result(fields)

    monkeypatch.setattr(Path, "stat", owned_by_root)
    account = server_account(tmp_path / "data", None)
    assert account is not None
    assert account.name == "nobody"
    assert "refuses to run as root" in account.hint
