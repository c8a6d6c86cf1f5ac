"""The users file (users, roles, API tokens; hashes only) and `python -m dashboard.users`.

    python -m dashboard.users [--users FILE] add NAME --role analyst|admin [--password-stdin]
    python -m dashboard.users passwd NAME [--password-stdin]
    python -m dashboard.users role NAME analyst|admin
    python -m dashboard.users remove NAME           (and the user's API tokens)
    python -m dashboard.users list
    python -m dashboard.users token NAME [--label L] (prints the new token once)
    python -m dashboard.users revoke LABEL

The file (default data/users.toml, --users on app.py too) is the TOML described in
dashboard/auth.py (users with a role and a password hash, tokens by label with their hash).

Every change is written whole to a temporary file (0600) in the same folder, then renamed over
the file, so a running server (dashboard/auth.py re-reads it when it changes) never reads half
a file. A server running on it picks a change up on its next request, in every worker.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import tomli_w

from dashboard.auth import (NAME_PATTERN, NAME_RULE, ROLES, Directory, TokenRecord, UserRecord,
                            UsersFileError, add_user_hint, hash_password, load_users,
                            new_token, reason)
from dashboard.errors import clip
from dashboard.settings import DEFAULT_USERS

MIN_PASSWORD_CHARS = 8
HEADER = ("# ChurnLens users, roles and API tokens: edit with python -m dashboard.users.\n"
          "# Hashes only (werkzeug scrypt for passwords, sha256 for random tokens).\n\n")


# ----- writing ----------------------------------------------------------------------------


def to_toml(directory: Directory) -> str:
    """The users file's text for `directory` (users, then tokens, sorted)."""
    data: dict = {"users": {name: {"role": u.role, "password": u.password}
                            for name, u in sorted(directory.users.items())}}
    if directory.tokens:
        data["tokens"] = {label: {"user": t.user, "hash": t.hash, "created": t.created}
                          for label, t in sorted(directory.tokens.items())}
    return HEADER + tomli_w.dumps(data)


def write_users(path, directory: Directory) -> None:
    """Replace the users file with `directory`, atomically (temp file, fsync, rename), 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:  # mkstemp makes the file 0600
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(to_toml(directory))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


# ----- the command line -------------------------------------------------------------------


class CommandError(Exception):
    """What the command line prints before exiting with status 1."""


def _read(path: Path, missing_ok: bool = False) -> Directory:
    try:
        return load_users(path)
    except FileNotFoundError:
        if missing_ok:
            return Directory()
        raise CommandError(f"{path} does not exist; add a user first: "
                           f"{add_user_hint(path)}") from None
    except (OSError, UsersFileError) as exc:
        raise CommandError(reason(exc, path)) from None


def _name(name: str, what: str = "user name") -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise CommandError(f"{clip(name, 70)!r} is not a valid {what}: {NAME_RULE}")
    return name


def _user(directory: Directory, name: str) -> UserRecord:
    if name not in directory.users:
        raise CommandError(f"no user {name!r} in the users file")
    return directory.users[name]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            raise CommandError("the two passwords differ; nothing was changed")
    if len(password) < MIN_PASSWORD_CHARS:
        raise CommandError(f"a password has at least {MIN_PASSWORD_CHARS} characters")
    return password


def _with(directory: Directory, users=None, tokens=None) -> Directory:
    return Directory(directory.users if users is None else users,
                     directory.tokens if tokens is None else tokens)


def run(args: argparse.Namespace, out=print) -> None:
    """Carry out one parsed command; CommandError for anything refused."""
    path = Path(args.users)
    if args.command == "add":
        directory = _read(path, missing_ok=True)
        name = _name(args.name)
        if name in directory.users:
            raise CommandError(f"user {name!r} exists; passwd changes the password, role "
                               "the role")
        record = UserRecord(name, args.role, hash_password(_password(args.password_stdin)))
        write_users(path, _with(directory, users={**directory.users, name: record}))
        out(f"added {name} ({args.role}) to {path}")
    elif args.command == "passwd":
        directory = _read(path)
        old = _user(directory, args.name)
        record = UserRecord(old.name, old.role, hash_password(_password(args.password_stdin)))
        write_users(path, _with(directory, users={**directory.users, old.name: record}))
        out(f"changed the password of {old.name}; their sessions have ended")
    elif args.command == "role":
        directory = _read(path)
        old = _user(directory, args.name)
        record = UserRecord(old.name, args.role, old.password)
        write_users(path, _with(directory, users={**directory.users, old.name: record}))
        out(f"{old.name} is now {args.role}")
    elif args.command == "remove":
        directory = _read(path)
        _user(directory, args.name)
        users = {n: u for n, u in directory.users.items() if n != args.name}
        tokens = {k: t for k, t in directory.tokens.items() if t.user != args.name}
        write_users(path, Directory(users, tokens))
        gone = len(directory.tokens) - len(tokens)
        out(f"removed {args.name}" + (f" and {gone} API token(s)" if gone else ""))
    elif args.command == "list":
        directory = _read(path)
        for name, user in sorted(directory.users.items()):
            labels = sorted(k for k, t in directory.tokens.items() if t.user == name)
            out(f"{name}\t{user.role}" + (f"\ttokens: {', '.join(labels)}" if labels else ""))
    elif args.command == "token":
        directory = _read(path)
        user = _user(directory, args.name)
        label = _name(args.label, "token label") if args.label else _free_label(directory,
                                                                               user.name)
        if label in directory.tokens:
            raise CommandError(f"a token is already labelled {label!r}; revoke it first or "
                               "choose another --label")
        token, digest = new_token()
        created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        record = TokenRecord(label, user.name, digest, created)
        write_users(path, _with(directory, tokens={**directory.tokens, label: record}))
        out(token)
        print(f"API token {label} for {user.name} ({user.role}); shown only now, keep it "
              "secret: send it as Authorization: Bearer <token>", file=sys.stderr)
    elif args.command == "revoke":
        directory = _read(path)
        if args.label not in directory.tokens:
            raise CommandError(f"no API token labelled {args.label!r}")
        tokens = {k: t for k, t in directory.tokens.items() if k != args.label}
        write_users(path, _with(directory, tokens=tokens))
        out(f"revoked {args.label}")


def _free_label(directory: Directory, name: str) -> str:
    n = 1
    while f"{name}-{n}" in directory.tokens:
        n += 1
    return f"{name}-{n}"


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m dashboard.users",
                                   description="Users, roles and API tokens of ChurnLens.")
    main.add_argument("--users", default=DEFAULT_USERS, metavar="FILE.toml",
                      help="the users file (default data/users.toml)")
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add = commands.add_parser("add", help="add a user (asks for the password)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True,
                     help="analyst: read and export; admin: also load data, change tiers "
                          "and offers, create campaigns")
    passwd = commands.add_parser("passwd", help="change a user's password")
    passwd.add_argument("name")
    for sub in (add, passwd):
        sub.add_argument("--password-stdin", action="store_true",
                         help="read the password from the first line of standard input")
    role = commands.add_parser("role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    commands.add_parser("remove", help="remove a user and their API tokens").add_argument(
        "name")
    commands.add_parser("list", help="users, roles and token labels")
    token = commands.add_parser("token", help="make an API token for /api/score (printed "
                                              "once)")
    token.add_argument("name")
    token.add_argument("--label", help="the token's name (default NAME-1, NAME-2...)")
    commands.add_parser("revoke", help="revoke an API token").add_argument("label")
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        run(args)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ncancelled; nothing was changed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
