"""The broker's access control list, built from roles.

Each broker user has a role. A roost node may write only its own topics (`roost/<id>/#`),
its own discovery (`homeassistant/+/<id>/#`), read its requests and `homeassistant/status`,
and answer other clients' requests; controllers also read everything under `roost/` and
send commands and requests; the viewer only reads. Every user reads and writes its own
reply inbox `roost/reply/<user>/#` (requests' answers and the library's `Bus.sync()`).

In Mosquitto's ACL file `topic` lines before the first `user` line bind only anonymous
clients, and `pattern` lines bind every user with `%u` replaced by the user name
(checked with Mosquitto 2.0.11); both facts shape the file below.
"""

from __future__ import annotations

from enum import StrEnum

from roost.topics import Topics


class Role(StrEnum):
    NODE = "node"  # a roost node: its own topics only
    OBSERVER = "observer"  # a node that also reads every roost topic (recorder, detector)
    CONTROLLER = "controller"  # a node that reads everything and sends commands
    CLIENT = "client"  # not a node: reads everything, sends commands (admin CLI, Node-RED)
    HOMEASSISTANT = "homeassistant"  # a client that also reads discovery and says it is up
    VIEWER = "viewer"  # reads every roost topic, writes nothing


Rule = tuple[str, str]  # (access, topic filter)


def _node(topics: Topics, user: str) -> list[Rule]:
    p, d = topics.prefix, topics.discovery_prefix
    return [
        ("readwrite", f"{p}/{user}/#"),
        ("readwrite", f"{d}/+/{user}/#"),
        # Its requests; write too, so it can clear a request someone retained by mistake.
        ("readwrite", f"{p}/request/{user}/#"),
        ("write", f"{p}/response/{user}/#"),
        # Answers go to the asking client's inbox (its MQTT 5 response topic or reply_to,
        # both under roost/reply/<user>/ by the contract).
        ("write", f"{p}/reply/#"),
        ("read", f"{d}/status"),
    ]


def _read_all(topics: Topics) -> list[Rule]:
    return [("read", f"{topics.prefix}/#")]


def _command(topics: Topics) -> list[Rule]:
    p = topics.prefix
    return [("write", f"{p}/+/+/set"), ("write", f"{p}/+/+/set/+"), ("write", f"{p}/request/#")]


def _ha(topics: Topics, *, status: bool) -> list[Rule]:
    d = topics.discovery_prefix
    rules = [("read", f"{d}/#")]
    if status:
        rules.append(("write", f"{d}/status"))
    return rules


def rules_for(role: Role, user: str, topics: Topics) -> list[Rule]:
    match role:
        case Role.NODE:
            return _node(topics, user)
        case Role.OBSERVER:
            return _node(topics, user) + _read_all(topics)
        case Role.CONTROLLER:
            return _node(topics, user) + _read_all(topics) + _command(topics)
        case Role.CLIENT:
            return _read_all(topics) + _command(topics) + _ha(topics, status=False)
        case Role.HOMEASSISTANT:
            return _read_all(topics) + _command(topics) + _ha(topics, status=True)
        case Role.VIEWER:
            return _read_all(topics)


def anonymous_rules(topics: Topics) -> list[Rule]:
    """Demo mode on a loopback-only broker: anonymous clients are clients (they read and
    command, like mosquitto_sub/pub in a shell), never nodes."""
    return (
        _read_all(topics)
        + _command(topics)
        + _ha(topics, status=True)
        + [("readwrite", f"{topics.prefix}/reply/#")]
    )


def render(users: dict[str, Role], topics: Topics, *, anonymous: bool) -> str:
    lines = [
        "# roost broker ACL, written by `roost init` (docs/security.md). Do not edit: re-run",
        "# `roost init` after changing users or roles; the broker reloads it on SIGHUP.",
        "",
        "# Anonymous clients (lines before the first `user`); only on a loopback-only",
        "# broker in demo mode, otherwise the broker refuses them anyway.",
    ]
    if anonymous:
        lines += [f"topic {access} {topic}" for access, topic in anonymous_rules(topics)]
    else:
        lines.append("# (none: anonymous access is off)")
    lines += [
        "",
        "# Every user: its own reply inbox (request answers, Bus.sync).",
        f"pattern readwrite {topics.prefix}/reply/%u/#",
    ]
    for user in sorted(users):
        role = users[user]
        lines += ["", f"# {user}: {role.value}", f"user {user}"]
        lines += [f"topic {access} {topic}" for access, topic in rules_for(role, user, topics)]
        if role in CLOSED_INBOXES:
            lines += [f"topic deny {topic}" for topic in _other_inboxes(users, user, topics)]
    return "\n".join(lines) + "\n"


# Roles that read everything under the prefix but never answer a request: they must not
# read the answers others asked for (a viewer reading the admin's `logs`). Mosquitto
# checks `deny` before any grant; a deny covers writing too, which these roles never
# need outside their own inbox. Nodes that read everything (observers, controllers) also
# answer requests, so they keep writing (and reading) the reply tree.
CLOSED_INBOXES = frozenset({Role.CLIENT, Role.HOMEASSISTANT, Role.VIEWER})


def _other_inboxes(users: dict[str, Role], user: str, topics: Topics) -> list[str]:
    return [topics.replies(other) for other in sorted(users) if other != user]
