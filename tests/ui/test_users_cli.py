"""`python -m dashboard.users`: add, passwd, role, remove, list, token, revoke; the file holds
hashes only, is written whole and kept private."""

from __future__ import annotations

import io
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from werkzeug.security import check_password_hash

from dashboard import auth, users

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def path(tmp_path) -> Path:
    return tmp_path / "conf" / "users.toml"


def cli(path: Path, *argv: str, stdin: str | None = None, monkeypatch=None) -> int:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return users.main(["--users", str(path), *argv])


def add(path, monkeypatch, name="ann", role="analyst", password="ann-password-1") -> int:
    return cli(path, "add", name, "--role", role, "--password-stdin", stdin=password + "\n",
               monkeypatch=monkeypatch)


def test_add_writes_a_private_file_of_hashes(path, monkeypatch):
    assert add(path, monkeypatch) == 0
    assert add(path, monkeypatch, "adam", "admin", "adam-password-1") == 0
    text = path.read_text()
    assert "ann-password-1" not in text and "adam-password-1" not in text
    directory = auth.load_users(path)
    assert {n: u.role for n, u in directory.users.items()} == {"ann": "analyst",
                                                               "adam": "admin"}
    assert check_password_hash(directory.users["ann"].password, "ann-password-1")
    assert directory.users["ann"].password.startswith("scrypt:")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["users.toml"]  # no temp left


def test_add_refuses_a_second_user_of_that_name_bad_names_and_short_passwords(path,
                                                                              monkeypatch,
                                                                              capsys):
    assert add(path, monkeypatch) == 0
    before = path.read_bytes()
    assert add(path, monkeypatch) == 1
    assert "exists" in capsys.readouterr().err
    assert add(path, monkeypatch, name="bad name") == 1
    assert add(path, monkeypatch, name="bob", password="short") == 1
    assert "at least 8" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_add_asks_twice_for_the_password(path, monkeypatch, capsys):
    answers = iter(["first-password", "other-password"])
    monkeypatch.setattr(users.getpass, "getpass", lambda prompt: next(answers))
    assert cli(path, "add", "ann", "--role", "admin") == 1
    assert "differ" in capsys.readouterr().err and not path.exists()
    monkeypatch.setattr(users.getpass, "getpass", lambda prompt: "same-password")
    assert cli(path, "add", "ann", "--role", "admin") == 0
    assert check_password_hash(auth.load_users(path).users["ann"].password, "same-password")


def test_passwd_role_list_and_remove(path, monkeypatch, capsys):
    add(path, monkeypatch)
    add(path, monkeypatch, "adam", "admin", "adam-password-1")
    assert cli(path, "passwd", "ann", "--password-stdin", stdin="new-password-1\n",
               monkeypatch=monkeypatch) == 0
    assert check_password_hash(auth.load_users(path).users["ann"].password, "new-password-1")
    assert cli(path, "role", "ann", "admin") == 0
    assert auth.load_users(path).users["ann"].role == "admin"
    assert cli(path, "passwd", "nobody", "--password-stdin", stdin="x" * 9 + "\n",
               monkeypatch=monkeypatch) == 1
    capsys.readouterr()
    assert cli(path, "list") == 0
    assert capsys.readouterr().out.splitlines() == ["adam\tadmin", "ann\tadmin"]
    assert cli(path, "remove", "ann") == 0
    assert set(auth.load_users(path).users) == {"adam"}
    assert cli(path, "remove", "ann") == 1


def test_a_token_is_printed_once_and_stored_hashed(path, monkeypatch, capsys):
    add(path, monkeypatch)
    capsys.readouterr()
    assert cli(path, "token", "ann") == 0
    out = capsys.readouterr()
    token = out.out.strip()
    assert len(token) >= 43 and "shown only now" in out.err
    assert token not in path.read_text()
    record = auth.load_users(path).tokens["ann-1"]
    assert record.user == "ann" and record.hash == auth.token_digest(token)
    assert cli(path, "token", "ann", "--label", "scoring-job") == 0
    capsys.readouterr()
    assert cli(path, "token", "ann", "--label", "scoring-job") == 1  # label taken
    assert cli(path, "token", "nobody") == 1
    assert cli(path, "list") == 0
    assert "tokens: ann-1, scoring-job" in capsys.readouterr().out
    assert cli(path, "revoke", "ann-1") == 0
    assert set(auth.load_users(path).tokens) == {"scoring-job"}
    assert cli(path, "revoke", "ann-1") == 1
    assert cli(path, "remove", "ann") == 0  # the user's tokens go with them
    assert auth.load_users(path).tokens == {}


def test_a_malformed_file_is_never_overwritten(path, monkeypatch, capsys):
    path.parent.mkdir()
    path.write_text('[users.bob]\nrole = "boss"\n')
    assert add(path, monkeypatch) == 1
    assert 'users.bob.role: "boss" is not analyst or admin' in capsys.readouterr().err
    assert path.read_text() == '[users.bob]\nrole = "boss"\n'
    assert cli(path, "list") == 1


def test_commands_other_than_add_need_the_file(path, capsys):
    assert cli(path, "list") == 1
    assert "does not exist" in capsys.readouterr().err


def test_runs_as_a_module(tmp_path):
    path = tmp_path / "users.toml"
    result = subprocess.run(
        [sys.executable, "-m", "dashboard.users", "--users", str(path), "add", "ann",
         "--role", "analyst", "--password-stdin"], input="ann-password-1\n", cwd=ROOT,
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "RuntimeWarning" not in result.stderr
    assert set(auth.load_users(path).users) == {"ann"}
