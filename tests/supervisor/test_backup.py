"""SQLite online backups, scheduled backups with retention, and the backup archive:
backed up on one "machine" and restored into a fresh directory, the system is whole."""

from __future__ import annotations

import io
import json
import sqlite3
import stat
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from roost.bus import Bus
from roost.secrets import load_admin_record, verify_secret
from roost.settings import MqttSettings
from roost.testing import Watcher
from roost.testing.broker import MosquittoBroker
from roost.topics import Topics
from roost_supervisor.accounts import acl_path, initialise, passwd_path
from roost_supervisor.archive import ArchiveError, write_archive
from roost_supervisor.dbbackup import online_backup
from roost_supervisor.launch import read_password
from roost_supervisor.restore import read_manifest, restore_archive
from roost_supervisor.settings import DEFAULT_EXCLUDE, BackupSection, Settings

from .conftest import python_app, supervising

WRITER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE IF NOT EXISTS samples (ts REAL, value REAL)")
batches = 0
while True:
    db.execute("BEGIN")
    db.executemany("INSERT INTO samples VALUES (?, ?)", [(time.time(), i) for i in range(200)])
    db.execute("COMMIT")
    batches += 1
    if batches == 1:
        print("ready", flush=True)
"""


@pytest.fixture
def live_database(tmp_path: Path) -> Iterator[Path]:
    """A WAL database another process keeps writing to, as the recorder does."""
    path = tmp_path / "data" / "recorder" / "history.db"
    path.parent.mkdir(parents=True)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    yield path
    writer.kill()
    writer.wait()


def count(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM samples").fetchone()[0])


def test_online_backup_of_a_database_being_written(live_database: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    size = online_backup(live_database, copy)
    assert size == copy.stat().st_size > 0
    assert count(copy) > 0
    with sqlite3.connect(copy) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert not (tmp_path / "copy.db-wal").exists()


async def test_scheduled_backups_keep_the_newest(
    make_settings: Callable[..., Settings], live_database: Path
) -> None:
    backup = BackupSection(interval=0.2, keep=2, first_delay=0)
    app = python_app(databases=[Path("recorder/history.db")])
    settings = make_settings({"recorder-like": app}, backup=backup)
    async with supervising(settings) as h:
        state = await h.state("backups", lambda s: s["last_ok"] is True)
        assert state["databases"] == 1 and state["size"] > 0
        folder = settings.node.data_dir.resolve() / "backups" / "recorder-history"
        # Three more runs (one by the button); retention keeps two.
        for _ in range(2):
            mark = h.mark()
            await h.state("backups", lambda s: s["last_ok"] is True, since=mark)
        mark = h.mark()
        await h.press("backups", "run")
        await h.state("backups", lambda s: s["last_ok"] is True, since=mark)
        copies = sorted(folder.glob("*.db"))
        assert 1 <= len(copies) <= 2
        assert count(copies[-1]) > 0


@pytest.fixture
def old_machine(tmp_path: Path, live_database: Path) -> Path:
    """A data dir as a running system leaves it: accounts, a recorder database being
    written, event-engine scripts, the broker's persisted retained state, a config file,
    logs and earlier backups (which do not belong in the archive)."""
    root = tmp_path
    data = root / "data"
    initialise(data, Topics())
    scripts = data / "event-engine" / "scripts"
    scripts.mkdir(parents=True)
    (scripts / "fan.js").write_text("function temperature_onchange(d) { return 1; }\n")
    (data / "supervisor" / "logs").mkdir(parents=True)
    (data / "supervisor" / "logs" / "recorder.log").write_text("noise\n")
    (data / "backups").mkdir()
    (data / "backups" / "old.tar.gz").write_bytes(b"old")
    (root / "roost.toml").write_text('[mqtt]\nprefix = "roost"\n')
    return root


def persist_retained(data: Path, topic: str, payload: bytes) -> None:
    """Run the broker with persistence in the data dir and leave a retained message."""
    broker = MosquittoBroker(data / "mosquitto", persistence=True)
    broker.start()
    try:
        subprocess.run(
            ["mosquitto_pub", "-p", str(broker.port), "-t", topic, "-m", payload, "-r", "-q", "1"],
            check=True,
        )
    finally:
        broker.stop()  # mosquitto writes mosquitto.db on a clean exit


async def test_backup_then_restore_reproduces_the_system(
    old_machine: Path, live_database: Path, tmp_path: Path
) -> None:
    old_data = old_machine / "data"
    persist_retained(old_data, "roost/i2c-bridge/bme280-76/state", b'{"temperature":21.5}')
    archive = tmp_path / "out" / "roost.tar.gz"
    report = write_archive(
        archive,
        data_dir=old_data,
        config=old_machine / "roost.toml",
        exclude=list(DEFAULT_EXCLUDE),
    )
    assert report.databases == ["data/recorder/history.db"]
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    manifest = read_manifest(archive)
    assert "data/event-engine/scripts/fan.js" in manifest.files
    assert "data/secrets/admin.json" in manifest.files
    assert "data/mosquitto/mosquitto.db" in manifest.files
    assert not any(name.startswith("data/backups/") for name in manifest.files)
    assert not any(name.startswith("data/supervisor/logs") for name in manifest.files)
    assert not any(name.endswith(("-wal", "-shm")) for name in manifest.files)
    rows_at_backup = count(live_database)

    new = tmp_path / "new-machine"
    restored = restore_archive(archive, data_dir=new / "data", config=new / "roost.toml")
    assert restored.files == len(manifest.files)
    new_data = new / "data"
    assert (new / "roost.toml").read_text() == (old_machine / "roost.toml").read_text()
    assert (new_data / "event-engine/scripts/fan.js").read_text().startswith("function")
    for name in ("admin.json", "recorder.password", "mosquitto.passwd", "mosquitto.acl"):
        path = new_data / "secrets" / name
        assert path.read_bytes() == (old_data / "secrets" / name).read_bytes()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((new_data / "secrets").stat().st_mode) == 0o700
    assert 0 < count(new_data / "recorder" / "history.db") <= rows_at_backup

    # The restored broker state, users and ACL work: the old retained state is there and
    # the recorder logs in with its old password.
    broker = MosquittoBroker(
        new_data / "mosquitto",
        persistence=True,
        extra_config=(f"password_file {passwd_path(new_data)}\nacl_file {acl_path(new_data)}\n"),
    )
    broker.start()
    try:
        settings = MqttSettings(
            host=broker.host,
            port=broker.port,
            username="recorder",
            password=read_password(new_data, "recorder"),
        )
        async with Bus(settings, reconnect=False) as bus, Watcher(bus, "roost/#") as seen:
            state = await seen.wait_json("roost/i2c-bridge/bme280-76/state")
            assert state == {"temperature": 21.5}
    finally:
        broker.stop()
    record = load_admin_record(new_data)
    assert (
        record is not None
        and record.hash == json.loads((old_data / "secrets" / "admin.json").read_text())["hash"]
    )
    assert verify_secret("wrong", record) is False


def test_restore_refuses_to_overwrite_without_force(old_machine: Path, tmp_path: Path) -> None:
    archive = tmp_path / "a.tar.gz"
    write_archive(archive, data_dir=old_machine / "data", config=None, exclude=[])
    target = tmp_path / "busy"
    (target / "data").mkdir(parents=True)
    (target / "data" / "keep.txt").write_text("mine")
    with pytest.raises(ArchiveError, match="--force"):
        restore_archive(archive, data_dir=target / "data", config=target / "roost.toml")
    report = restore_archive(
        archive, data_dir=target / "data", config=target / "roost.toml", force=True
    )
    assert len(report.moved_aside) == 1
    assert (report.moved_aside[0] / "keep.txt").read_text() == "mine"
    assert (target / "data" / "secrets" / "admin.json").exists()
    assert report.config is None  # the archive had no config file


def _tamper(source: Path, target: Path, change: Callable[[tarfile.TarInfo, bytes], bytes]) -> None:
    with tarfile.open(source, "r:gz") as old, tarfile.open(target, "w:gz") as new:
        for member in old:
            data = old.extractfile(member).read() if member.isfile() else b""  # type: ignore[union-attr]
            data = change(member, data)
            member.size = len(data)
            new.addfile(member, io.BytesIO(data))


def test_a_damaged_or_hostile_archive_is_refused(old_machine: Path, tmp_path: Path) -> None:
    archive = tmp_path / "a.tar.gz"
    write_archive(archive, data_dir=old_machine / "data", config=None, exclude=[])

    damaged = tmp_path / "damaged.tar.gz"
    _tamper(
        archive,
        damaged,
        lambda m, d: b"changed" if m.name.endswith("scripts/fan.js") else d,
    )
    with pytest.raises(ArchiveError, match=r"SHA-256|size"):
        restore_archive(damaged, data_dir=tmp_path / "d1", config=tmp_path / "c1.toml")

    hostile = tmp_path / "hostile.tar.gz"
    with tarfile.open(archive, "r:gz") as old, tarfile.open(hostile, "w:gz") as new:
        for member in old:
            data = old.extractfile(member).read() if member.isfile() else b""  # type: ignore[union-attr]
            new.addfile(member, io.BytesIO(data))
        evil = tarfile.TarInfo("roost-backup/data/../../evil")
        evil.size = 4
        new.addfile(evil, io.BytesIO(b"evil"))
    with pytest.raises(ArchiveError, match="unsafe"):
        restore_archive(hostile, data_dir=tmp_path / "d2", config=tmp_path / "c2.toml")
    assert not (tmp_path / "evil").exists()

    with pytest.raises(ArchiveError, match="not a roost backup"):
        read_manifest(old_machine / "roost.toml")
