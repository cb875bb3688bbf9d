"""The client id of a node's persistent session: `<node id>-<secret>`.

MQTT identifies a session by its client id alone, and Mosquitto lets any login (or any
anonymous client in demo mode) connect with any client id: whoever connects as
`recorder` kicks the recorder off and, with a clean start, wipes the session that holds
what it has not yet stored. Mosquitto 2.0 has no way to reserve a client id for one user
(the dynamic-security plugin's client id binding restricts only the bound user;
`use_username_as_clientid` allows one connection per user). So the id itself is the
secret: 16 random bytes made once, kept in the data dir (mode 0600) next to the node's
broker password, and never published. The same data dir gives the same session across
restarts; nobody else can name it.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from roost.secrets import new_secret, secrets_dir, write_private

TOKEN = re.compile(r"^[A-Za-z0-9_-]{22,}$")


def session_path(data_dir: Path, node_id: str) -> Path:
    return secrets_dir(data_dir) / f"{node_id}.session"


def session_client_id(data_dir: Path, node_id: str) -> str:
    """`<node id>-<secret>`, the secret read from the data dir or made there now."""
    path = session_path(data_dir, node_id)
    token = _read(path)
    if token is None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        made = new_secret(16)
        # Two processes starting at once must end with one secret: create exclusively.
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(made + "\n")
        token = _read(path)
        if token is None:  # a file with something else in it: replace it
            write_private(path, made + "\n")
            token = made
    return f"{node_id}-{token}"


def _read(path: Path) -> str | None:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return text if TOKEN.match(text) else None
