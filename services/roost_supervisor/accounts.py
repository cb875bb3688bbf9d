"""`roost init`: the data dir, one broker user per node with a random password, the
Mosquitto password file and ACL, and the admin secret, stored hashed.

Under `data/secrets/` (mode 0700, every file 0600):

    users.json           broker user → role (users added with `roost init --user`)
    <user>.password      a user's broker password, for the program that logs in as it
    admin.json           the admin secret, scrypt-hashed (roost.secrets): the web UI login
    admin.mosquitto      the admin secret as the broker's hash: the remote CLI logs in
                         as user `admin` with the secret itself, which is stored nowhere
    mosquitto.passwd     the broker's password file (PBKDF2 hashes only)
    mosquitto.acl        the broker's ACL

Running it again keeps every password and the admin secret, adds what is missing, and
rewrites the password file and ACL; `--rotate USER` replaces one secret.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from roost.secrets import (
    admin_path,
    new_secret,
    secrets_dir,
    store_admin_secret,
    write_private,
)
from roost.topics import Topics, check_node_id
from roost_supervisor import acl, passwd
from roost_supervisor.acl import Role
from roost_supervisor.launch import password_path

ADMIN = "admin"
# Every roost service, and the clients people connect with.
DEFAULT_USERS: dict[str, Role] = {
    "supervisor": Role.OBSERVER,
    "i2c-bridge": Role.NODE,
    "recorder": Role.OBSERVER,
    "event-engine": Role.CONTROLLER,
    "camera": Role.NODE,
    "detector": Role.OBSERVER,
    "webui": Role.CONTROLLER,
    ADMIN: Role.CLIENT,
    "nodered": Role.CLIENT,
    "homeassistant": Role.HOMEASSISTANT,
    "viewer": Role.VIEWER,
}


def users_path(data_dir: Path) -> Path:
    return secrets_dir(data_dir) / "users.json"


def passwd_path(data_dir: Path) -> Path:
    return secrets_dir(data_dir) / "mosquitto.passwd"


def acl_path(data_dir: Path) -> Path:
    return secrets_dir(data_dir) / "mosquitto.acl"


def admin_broker_hash_path(data_dir: Path) -> Path:
    return secrets_dir(data_dir) / "admin.mosquitto"


def broker_pid_path(data_dir: Path) -> Path:
    return data_dir / "mosquitto" / "mosquitto.pid"


def initialised(data_dir: Path) -> bool:
    return passwd_path(data_dir).is_file() and acl_path(data_dir).is_file()


class AccountError(Exception):
    """A user name or role that cannot be, or a rotation of an unknown user."""


@dataclass
class InitReport:
    data_dir: Path
    users: dict[str, Role]
    created: list[str] = field(default_factory=list)
    rotated: list[str] = field(default_factory=list)
    admin_secret: str | None = None  # only when it was made now: shown once
    broker_reloaded: bool = False


def load_users(data_dir: Path) -> dict[str, Role]:
    path = users_path(data_dir)
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text())
    return {str(user): Role(role) for user, role in raw.items()}


def check_user(name: str) -> str:
    """Broker users are node ids (slugs), so `roost/<user>/#` is a topic of the contract."""
    try:
        return check_node_id(name)
    except ValueError as exc:
        raise AccountError(str(exc)) from None


def initialise(
    data_dir: Path,
    topics: Topics,
    *,
    add: dict[str, Role] | None = None,
    nodes: list[str] | None = None,
    rotate: list[str] | None = None,
    anonymous: bool = True,
) -> InitReport:
    """Create or update the data dir's accounts (blocking file work). `add` sets users'
    roles; `nodes` (the configured apps' node ids) become `node` users unless they have a
    role already."""
    data_dir.mkdir(parents=True, exist_ok=True)
    secrets = secrets_dir(data_dir)
    secrets.mkdir(mode=0o700, exist_ok=True)
    os.chmod(secrets, 0o700)
    users = {**DEFAULT_USERS, **load_users(data_dir)}
    for name in nodes or []:
        users.setdefault(check_user(name), Role.NODE)
    for name, role in (add or {}).items():
        users[check_user(name)] = role
    for name in rotate or []:
        if name not in users:
            raise AccountError(f"no broker user {name!r} to rotate (known: {', '.join(users)})")
    report = InitReport(data_dir, users)
    hashes: dict[str, str] = {}
    for user in sorted(users):
        if user == ADMIN:
            continue
        path = password_path(data_dir, user)
        renew = user in (rotate or [])
        if renew or not path.is_file():
            write_private(path, new_secret() + "\n")
            (report.rotated if renew else report.created).append(user)
        hashes[user] = passwd.hash_password(path.read_text().strip())
    hashes[ADMIN] = _admin(data_dir, renew=ADMIN in (rotate or []), report=report)
    write_private(
        users_path(data_dir), json.dumps({u: r.value for u, r in users.items()}, indent=2)
    )
    write_private(passwd_path(data_dir), passwd.render(hashes))
    write_private(acl_path(data_dir), acl.render(users, topics, anonymous=anonymous))
    report.broker_reloaded = reload_broker(data_dir)
    return report


def _admin(data_dir: Path, *, renew: bool, report: InitReport) -> str:
    hash_file = admin_broker_hash_path(data_dir)
    if renew or not admin_path(data_dir).is_file() or not hash_file.is_file():
        secret = new_secret()
        store_admin_secret(data_dir, secret)
        write_private(hash_file, passwd.hash_password(secret) + "\n")
        report.admin_secret = secret
        (report.rotated if renew else report.created).append(ADMIN)
    return hash_file.read_text().strip()


def reload_broker(data_dir: Path) -> bool:
    """SIGHUP roost's own broker (if it runs) so it re-reads the password file and ACL."""
    try:
        pid = int(broker_pid_path(data_dir).read_text().strip())
        if not psutil.Process(pid).name().startswith("mosquitto"):
            return False  # a stale pid file: that pid is someone else's now
    except (OSError, ValueError, psutil.Error):
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGHUP)
        return True
    return False
