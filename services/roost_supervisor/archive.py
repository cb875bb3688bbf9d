"""`roost backup` and `roost restore`: the whole system in one archive and back.

The archive (`.tar.gz`) holds the config file, the data dir (secrets, the broker's
retained state, every SQLite database as an online copy, event-engine scripts, …) minus
what is rebuilt or disposable (logs, the generated broker config, earlier backups), any
extra paths named in `[supervisor.backup] include`, and a manifest with a SHA-256 per
file. Restoring onto a new machine puts it all back so that `roost up` there continues
where the old machine stopped.

    roost-backup/manifest.json
    roost-backup/config/roost.toml
    roost-backup/data/...
    roost-backup/extra/<n>/...
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import os
import socket
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from roost import __version__
from roost.clock import iso, utc_now
from roost_supervisor.dbbackup import STAMP, BackupError, is_sqlite, online_backup

ROOT = "roost-backup"
VERSION = 1
# Files SQLite rebuilds or that belong to a live writer: never copied as they are.
SQLITE_SIDE_FILES = ("*-wal", "*-shm", "*-journal", "*.db.part")


class ArchiveError(Exception):
    """An archive cannot be written or restored; the message says why for a person."""


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sha256: str
    size: int
    mode: int


class ExtraEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    archive: str
    path: str
    kind: Literal["file", "dir"]


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["roost-backup"] = "roost-backup"
    version: int = VERSION
    roost_version: str = __version__
    created: str
    host: str
    data_dir: str
    config: str | None = None
    extras: list[ExtraEntry] = Field(default_factory=list)
    databases: list[str] = Field(default_factory=list)
    files: dict[str, FileEntry] = Field(default_factory=dict)


@dataclass
class ArchiveReport:
    path: Path
    files: int
    databases: list[str]
    size: int


def default_archive_path(backups_dir: Path) -> Path:
    stamp = utc_now().strftime(STAMP)
    return backups_dir / f"roost-{socket.gethostname()}-{stamp}.tar.gz"


def _excluded(relative: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        pattern = pattern.strip("/")
        if relative == pattern or relative.startswith(pattern + "/"):
            return True
        if fnmatch.fnmatchcase(relative, pattern):
            return True
    name = relative.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(name, side) for side in SQLITE_SIDE_FILES)


def _walk(root: Path, exclude: list[str]) -> Iterator[tuple[Path, str]]:
    """Regular files under `root` (sorted), with their posix path relative to it."""
    for directory, dirs, files in os.walk(root):
        base = Path(directory)
        rel_dir = base.relative_to(root).as_posix()

        def relative_of(name: str, rel_dir: str = rel_dir) -> str:
            return name if rel_dir == "." else f"{rel_dir}/{name}"

        dirs[:] = sorted(d for d in dirs if not _excluded(relative_of(d), exclude))
        for name in sorted(files):
            path = base / name
            relative = relative_of(name)
            if _excluded(relative, exclude):
                continue
            if stat.S_ISREG(path.lstat().st_mode):
                yield path, relative


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_archive(
    output: Path,
    *,
    data_dir: Path,
    config: Path | None,
    exclude: list[str],
    extras: list[Path] | None = None,
) -> ArchiveReport:
    """Write the archive (blocking). SQLite databases are copied online, so the system
    may keep running meanwhile."""
    data_dir = data_dir.resolve()
    if not data_dir.is_dir():
        raise ArchiveError(f"data dir {data_dir} does not exist: nothing to back up")
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(created=iso(), host=socket.gethostname(), data_dir=str(data_dir))
    # The archive must not contain itself when it is written inside the data dir.
    skip = list(exclude)
    if output.is_relative_to(data_dir):
        skip.append(output.relative_to(data_dir).as_posix() + ".part")
    partial = output.with_name(output.name + ".part")
    with tempfile.TemporaryDirectory(prefix="roost-backup-") as scratch:
        try:
            with tarfile.open(partial, "w:gz") as tar:

                def add(source: Path, name: str) -> None:
                    mode = stat.S_IMODE(source.stat().st_mode)
                    info = tar.gettarinfo(str(source), arcname=f"{ROOT}/{name}")
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    with source.open("rb") as handle:
                        tar.addfile(info, handle)
                    manifest.files[name] = FileEntry(
                        sha256=_sha256(source), size=info.size, mode=mode
                    )

                if config is not None:
                    manifest.config = "config/roost.toml"
                    add(config.resolve(), manifest.config)
                for path, relative in _walk(data_dir, skip):
                    name = f"data/{relative}"
                    if is_sqlite(path):
                        copy = Path(scratch) / f"{len(manifest.databases)}.db"
                        try:
                            online_backup(path, copy)
                        except BackupError as exc:
                            raise ArchiveError(str(exc)) from None
                        os.chmod(copy, stat.S_IMODE(path.stat().st_mode))
                        add(copy, name)
                        manifest.databases.append(name)
                    else:
                        add(path, name)
                for index, extra in enumerate(extras or []):
                    resolved = extra.resolve()
                    prefix = f"extra/{index}"
                    if resolved.is_file():
                        manifest.extras.append(
                            ExtraEntry(archive=prefix, path=str(extra), kind="file")
                        )
                        add(resolved, f"{prefix}/{resolved.name}")
                    elif resolved.is_dir():
                        manifest.extras.append(
                            ExtraEntry(archive=prefix, path=str(extra), kind="dir")
                        )
                        for path, relative in _walk(resolved, []):
                            add(path, f"{prefix}/{relative}")
                body = manifest.model_dump_json(indent=2).encode()
                info = tarfile.TarInfo(f"{ROOT}/manifest.json")
                info.size = len(body)
                info.mode = 0o600
                info.mtime = int(utc_now().timestamp())
                tar.addfile(info, io.BytesIO(body))
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    os.chmod(partial, 0o600)  # it holds the secrets
    partial.replace(output)
    return ArchiveReport(output, len(manifest.files), manifest.databases, output.stat().st_size)
