"""The schema: created fresh, migrated from an older version, refused when newer; and
settings mistakes stop the service with one clear line."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from pathlib import Path

import aiosqlite
import pytest

from roost_recorder.schema import VERSION, SchemaError, migrate
from roost_recorder.store import Batch, Store


async def test_a_new_database_gets_the_whole_schema(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "new" / "history.db")
    await store.close()
    with sqlite3.connect(tmp_path / "new" / "history.db") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental


async def test_an_older_database_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    async with aiosqlite.connect(path, isolation_level=None) as db:
        await migrate(db, target=1)
        await db.execute("INSERT INTO devices (id, node, device) VALUES (1, 'n', 'd')")
        await db.execute("INSERT INTO series (id, device_id, prop) VALUES (1, 1, 'level')")
        await db.execute("INSERT INTO samples VALUES (1, 1000, 2.5)")
    store = await Store.open(path)
    try:
        assert store.series == {("n", "d", "level"): 1}
        batch = Batch(samples=[(("n", "d", "level"), 2000, 3.5)])
        assert (await store.write(batch)).samples == 1
    finally:
        await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == VERSION
        assert db.execute("SELECT count(*) FROM samples").fetchone()[0] == 2
        assert db.execute("SELECT count(*) FROM sink_outbox").fetchone()[0] == 0


async def test_a_newer_or_foreign_database_is_refused(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as db:
        db.execute(f"PRAGMA user_version = {VERSION + 1}")
    with pytest.raises(SchemaError, match="newer"):
        await Store.open(newer)
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE mine (x)")
    with pytest.raises(SchemaError, match="not a recorder database"):
        await Store.open(foreign)


async def _service(tmp_path: Path, **env: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "roost_recorder",
        cwd=tmp_path,
        env={**os.environ, "ROOST_MQTT__PORT": "1", **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode or 0, err.decode()


async def test_mistakes_stop_the_service_with_one_line(tmp_path: Path) -> None:
    code, err = await _service(tmp_path, ROOST_RECORDER__BATCH_SIZE="5000")
    assert code == 2 and "receive_maximum" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "roost.toml").write_text("[recorder]\nretension_raw_days = 3\n")
    code, err = await _service(tmp_path)
    assert code == 2 and "retension_raw_days" in err and "unknown key" in err
    (tmp_path / "roost.toml").unlink()
    with sqlite3.connect(tmp_path / "newer.db") as db:
        db.execute(f"PRAGMA user_version = {VERSION + 1}")
    code, err = await _service(tmp_path, ROOST_RECORDER__DATABASE=str(tmp_path / "newer.db"))
    assert code == 2 and "newer" in err and len(err.strip().splitlines()) == 1
