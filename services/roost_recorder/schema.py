"""The database schema as a list of migrations; `PRAGMA user_version` says how many ran.

Numbers are kept per series (one node/device/property) in `samples`, keyed by time and
value so that a message delivered twice (a redelivery after a crash, a retained replay)
is stored once. Values that are not numbers (switches, text, enum options) go to
`changes`, only when they differ from the previous one. `agg_1m` and `agg_10m` hold
min, max, sum, count and the last value per bucket, kept in step with `samples` in the
same transaction. Times are Unix milliseconds.
"""

from __future__ import annotations

import aiosqlite

from roost.errors import RoostError


class SchemaError(RoostError):
    """The database was written by a newer recorder, or is not a recorder database."""


def _aggregate_table(name: str) -> str:
    return f"""
    CREATE TABLE {name} (
        series_id INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        min REAL NOT NULL,
        max REAL NOT NULL,
        sum REAL NOT NULL,
        count INTEGER NOT NULL,
        last REAL NOT NULL,
        last_ts INTEGER NOT NULL,
        PRIMARY KEY (series_id, bucket)
    ) WITHOUT ROWID"""


MIGRATIONS: list[list[str]] = [
    # 1: the history itself.
    [
        """
        CREATE TABLE devices (
            id INTEGER PRIMARY KEY,
            node TEXT NOT NULL,
            device TEXT NOT NULL,
            UNIQUE (node, device)
        )""",
        """
        CREATE TABLE series (
            id INTEGER PRIMARY KEY,
            device_id INTEGER NOT NULL REFERENCES devices (id),
            prop TEXT NOT NULL,
            UNIQUE (device_id, prop)
        )""",
        """
        CREATE TABLE samples (
            series_id INTEGER NOT NULL,
            ts INTEGER NOT NULL,
            value REAL NOT NULL,
            PRIMARY KEY (series_id, ts, value)
        ) WITHOUT ROWID""",
        """
        CREATE TABLE changes (
            series_id INTEGER NOT NULL,
            ts INTEGER NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (series_id, ts, value)
        ) WITHOUT ROWID""",
        _aggregate_table("agg_1m"),
        _aggregate_table("agg_10m"),
        """
        CREATE TABLE events (
            device_id INTEGER NOT NULL,
            ts INTEGER NOT NULL,
            event_id TEXT NOT NULL,
            phase TEXT NOT NULL,
            event_type TEXT NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (device_id, ts, event_id, phase)
        ) WITHOUT ROWID""",
    ],
    # 2: what the InfluxDB sink has still to send, written in the same transaction as
    # the samples so that neither a crash nor an unreachable server loses a point.
    [
        """
        CREATE TABLE sink_outbox (
            id INTEGER PRIMARY KEY,
            points INTEGER NOT NULL,
            body BLOB NOT NULL
        )""",
    ],
]

VERSION = len(MIGRATIONS)


async def migrate(db: aiosqlite.Connection, target: int = VERSION) -> int:
    """Bring the schema to `target`, one transaction per migration; returns the version
    found before. Raises SchemaError for a database from a newer recorder."""
    async with db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    found = int(row[0]) if row else 0
    if found > VERSION:
        raise SchemaError(
            f"database schema version {found} is newer than this recorder's ({VERSION}): "
            "upgrade roost, or point [recorder] database at another file"
        )
    if found == 0:
        async with db.execute("SELECT count(*) FROM sqlite_master") as cursor:
            row = await cursor.fetchone()
        if row and row[0]:
            raise SchemaError("the database file has tables but is not a recorder database")
    for version in range(found + 1, target + 1):
        await db.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[version - 1]:
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        await db.execute("COMMIT")
    return found
