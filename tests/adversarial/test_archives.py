"""Hostile archives against `roost restore`: it writes only where this machine allows,
checks sizes before writing, and is all or nothing."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from roost_supervisor.archive import ROOT, ArchiveError, write_archive
from roost_supervisor.restore import MAX_MANIFEST_BYTES, read_manifest, restore_archive

Members = list[tuple[tarfile.TarInfo, bytes]]


@pytest.fixture
def machine(tmp_path: Path) -> Path:
    """An old machine: a data dir, a config, and a file outside the data dir that its
    `[supervisor.backup] include` names."""
    root = tmp_path / "old"
    (root / "data" / "event-engine" / "scripts").mkdir(parents=True)
    (root / "data" / "event-engine" / "scripts" / "fan.js").write_text("// fan\n")
    (root / "data" / "secrets").mkdir()
    (root / "data" / "secrets" / "admin.json").write_text('{"hash": "x"}')
    (root / "roost.toml").write_text('[mqtt]\nprefix = "roost"\n')
    (root / "etc").mkdir()
    (root / "etc" / "cameras.env").write_text("RTSP=rtsp://cam\n")
    return root


def backup(machine: Path, out: Path) -> Path:
    archive = out / "backup.tar.gz"
    write_archive(
        archive,
        data_dir=machine / "data",
        config=machine / "roost.toml",
        exclude=[],
        extras=[machine / "etc" / "cameras.env"],
    )
    return archive


def members_of(archive: Path) -> Members:
    with tarfile.open(archive, "r:gz") as tar:
        return [
            (m, tar.extractfile(m).read() if m.isfile() else b"")  # type: ignore[union-attr]
            for m in tar
        ]


def rewrite(archive: Path, target: Path, change: Callable[[Members], Members]) -> Path:
    """A copy of `archive` with its members changed; the manifest is re-signed to match
    when it is still there, as an attacker who crafts the whole archive would."""
    members = change(members_of(archive))
    with tarfile.open(target, "w:gz") as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return target


def with_manifest(members: Members, edit: Callable[[dict[str, object]], None]) -> Members:
    out: Members = []
    for info, data in members:
        if info.name == f"{ROOT}/manifest.json":
            manifest = json.loads(data)
            edit(manifest)
            data = json.dumps(manifest).encode()
        out.append((info, data))
    return out


def add_file(manifest: dict[str, object], name: str, body: bytes) -> None:
    files = manifest["files"]
    assert isinstance(files, dict)
    files[name] = {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body), "mode": 0o644}


def nothing_written(*places: Path) -> bool:
    """None of `places` exists, and no staging or moved-aside leftovers beside them."""
    for place in places:
        if place.exists():
            return False
        if place.parent.exists():
            leftovers = [p for p in place.parent.iterdir() if f"{place.name}." in p.name]
            if leftovers:
                return False
    return True


def test_an_extra_outside_this_machines_includes_is_never_written(
    machine: Path, tmp_path: Path
) -> None:
    """The manifest names its own target for an extra (a user's authorized_keys): the
    restore refuses and writes nothing anywhere."""
    victim = tmp_path / "home" / ".ssh" / "authorized_keys"
    payload = b"ssh-ed25519 AAAA attacker\n"

    def plant(members: Members) -> Members:
        def edit(manifest: dict[str, object]) -> None:
            manifest["extras"] = [{"archive": "extra/0", "path": str(victim), "kind": "file"}]
            add_file(manifest, "extra/0/authorized_keys", payload)
            files = manifest["files"]
            assert isinstance(files, dict)
            files.pop("extra/0/cameras.env")

        kept = [(i, d) for i, d in members if not i.name.endswith("cameras.env")]
        evil = tarfile.TarInfo(f"{ROOT}/extra/0/authorized_keys")
        return with_manifest([(evil, payload), *kept], edit)

    hostile = rewrite(backup(machine, tmp_path), tmp_path / "hostile.tar.gz", plant)
    new = tmp_path / "new"
    with pytest.raises(ArchiveError, match="--extra PATH") as refused:
        restore_archive(hostile, data_dir=new / "data", config=new / "roost.toml")
    assert str(victim) in str(refused.value)
    assert not victim.exists()
    assert nothing_written(new / "data", new / "roost.toml")

    # Left out on request: data and config come back, the extra stays unwritten.
    report = restore_archive(
        hostile, data_dir=new / "data", config=new / "roost.toml", skip_extras=True
    )
    assert report.skipped_extras == [str(victim)]
    assert (new / "data" / "event-engine" / "scripts" / "fan.js").read_text() == "// fan\n"
    assert not victim.exists()


def test_extras_go_back_only_to_paths_this_machine_names(machine: Path, tmp_path: Path) -> None:
    archive = backup(machine, tmp_path)
    new = tmp_path / "new"
    original = machine / "etc" / "cameras.env"
    original.unlink()  # the new machine: the place is free, but nobody named it yet
    with pytest.raises(ArchiveError, match="include"):
        restore_archive(archive, data_dir=new / "data", config=new / "roost.toml")
    assert not original.exists()
    restore_archive(archive, data_dir=new / "data", config=new / "roost.toml", include=[original])
    assert original.read_text() == "RTSP=rtsp://cam\n"


@pytest.mark.parametrize("kind", ["symlink", "hardlink", "fifo", "device"])
def test_links_and_special_files_are_refused(machine: Path, tmp_path: Path, kind: str) -> None:
    def plant(members: Members) -> Members:
        info = tarfile.TarInfo(f"{ROOT}/data/evil")
        info.type = {
            "symlink": tarfile.SYMTYPE,
            "hardlink": tarfile.LNKTYPE,
            "fifo": tarfile.FIFOTYPE,
            "device": tarfile.CHRTYPE,
        }[kind]
        info.linkname = "/etc/passwd"
        return [*members[:1], (info, b""), *members[1:]]

    hostile = rewrite(backup(machine, tmp_path), tmp_path / "hostile.tar.gz", plant)
    new = tmp_path / "new"
    with pytest.raises(ArchiveError, match="regular files only"):
        restore_archive(hostile, data_dir=new / "data", config=new / "roost.toml")
    assert nothing_written(new / "data", new / "roost.toml")


@pytest.mark.parametrize(
    "name",
    [
        f"{ROOT}/data/../../escaped",
        "/tmp/absolute-escape",
        f"{ROOT}/./data/x",
        f"{ROOT}/data/a\\..\\..\\b",
    ],
)
def test_a_refused_member_late_in_the_archive_leaves_nothing_written(
    machine: Path, tmp_path: Path, name: str
) -> None:
    """Members before the refused one are not written either: all or nothing."""

    def plant(members: Members) -> Members:
        evil = tarfile.TarInfo(name)
        manifest_last = members[-1]
        return [*members[:-1], (evil, b"evil"), manifest_last]

    hostile = rewrite(backup(machine, tmp_path), tmp_path / "hostile.tar.gz", plant)
    new = tmp_path / "new"
    with pytest.raises(ArchiveError, match=r"unsafe|unexpected"):
        restore_archive(hostile, data_dir=new / "data", config=new / "roost.toml")
    assert nothing_written(new / "data", new / "roost.toml")
    assert not (tmp_path / "escaped").exists()


def raw_header(name: str, size: int) -> bytes:
    """A tar header that declares `size` bytes, with none following (a bomb's claim)."""
    info = tarfile.TarInfo(name)
    info.size = size
    return info.tobuf(format=tarfile.GNU_FORMAT)


def gzip_of(raw: bytes, path: Path) -> Path:
    import gzip

    path.write_bytes(gzip.compress(raw))
    return path


def test_an_archive_that_declares_more_than_the_disk_holds_is_refused_first(
    tmp_path: Path,
) -> None:
    huge = raw_header(f"{ROOT}/data/bomb.db", 1 << 52)  # 4.5 PB
    bomb = gzip_of(huge, tmp_path / "bomb.tar.gz")
    new = tmp_path / "new"
    with pytest.raises(ArchiveError, match="free"):
        restore_archive(bomb, data_dir=new / "data", config=new / "roost.toml")
    assert nothing_written(new / "data", new / "roost.toml")


def test_a_real_bomb_is_checked_against_free_space_before_writing(
    machine: Path, tmp_path: Path
) -> None:
    """Many megabytes of zeros that compress to almost nothing: the declared total is
    compared with the free space before a byte is written."""
    body = bytes(50 * 1024 * 1024)

    def plant(members: Members) -> Members:
        def edit(manifest: dict[str, object]) -> None:
            add_file(manifest, "data/zeros.bin", body)

        info = tarfile.TarInfo(f"{ROOT}/data/zeros.bin")
        return with_manifest([(info, body), *members], edit)

    bomb = rewrite(backup(machine, tmp_path), tmp_path / "bomb.tar.gz", plant)
    assert bomb.stat().st_size < 1024 * 1024
    new = tmp_path / "new"
    report = restore_archive(
        bomb, data_dir=new / "data", config=new / "roost.toml", skip_extras=True
    )
    assert (new / "data" / "zeros.bin").stat().st_size == len(body)
    assert report.files >= 3


def test_a_huge_manifest_is_not_read_into_memory(tmp_path: Path) -> None:
    raw = raw_header(f"{ROOT}/manifest.json", MAX_MANIFEST_BYTES + 1)
    archive = gzip_of(raw + bytes(MAX_MANIFEST_BYTES + 1024), tmp_path / "big.tar.gz")
    with pytest.raises(ArchiveError, match="manifest"):
        read_manifest(archive)
    with pytest.raises(ArchiveError, match="manifest"):
        restore_archive(archive, data_dir=tmp_path / "d", config=tmp_path / "c.toml")


def test_sizes_must_match_the_manifest(machine: Path, tmp_path: Path) -> None:
    def grow(members: Members) -> Members:
        return [(i, d + b"// more\n" if i.name.endswith("fan.js") else d) for i, d in members]

    hostile = rewrite(backup(machine, tmp_path), tmp_path / "grown.tar.gz", grow)
    with pytest.raises(ArchiveError, match="size"):
        restore_archive(hostile, data_dir=tmp_path / "d", config=tmp_path / "c.toml")


def test_a_failed_forced_restore_keeps_the_old_data(machine: Path, tmp_path: Path) -> None:
    """A damaged member late in the archive: the data dir and config that were there are
    untouched, nothing is moved aside, no staging is left behind."""

    def damage(members: Members) -> Members:
        return [(i, b"// FAN\n" if i.name.endswith("fan.js") else d) for i, d in members]

    archive = backup(machine, tmp_path)
    damaged = rewrite(archive, tmp_path / "damaged.tar.gz", damage)
    current = tmp_path / "current"
    (current / "data").mkdir(parents=True)
    (current / "data" / "history.db").write_text("precious")
    (current / "roost.toml").write_text("# mine\n")
    with pytest.raises(ArchiveError, match="SHA-256"):
        restore_archive(
            damaged,
            data_dir=current / "data",
            config=current / "roost.toml",
            force=True,
            skip_extras=True,
        )
    assert (current / "data" / "history.db").read_text() == "precious"
    assert (current / "roost.toml").read_text() == "# mine\n"
    assert sorted(p.name for p in current.iterdir()) == ["data", "roost.toml"]

    report = restore_archive(
        archive,
        data_dir=current / "data",
        config=current / "roost.toml",
        force=True,
        skip_extras=True,
    )
    assert (current / "data" / "event-engine" / "scripts" / "fan.js").read_text() == "// fan\n"
    assert len(report.moved_aside) == 2
    assert any((aside / "history.db").exists() for aside in report.moved_aside if aside.is_dir())


def test_the_cli_refuses_and_says_how(machine: Path, tmp_path: Path) -> None:
    archive = backup(machine, tmp_path)
    (machine / "etc" / "cameras.env").unlink()
    new = tmp_path / "new"
    new.mkdir()
    env = {
        **os.environ,
        "ROOST_CONFIG": str(new / "roost.toml"),
        "ROOST_NODE__DATA_DIR": str(new / "data"),
    }
    command = [sys.executable, "-m", "roost.cli", "restore", str(archive)]
    refused = subprocess.run(
        command, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    assert refused.returncode != 0
    assert "--extra" in refused.stderr + refused.stdout
    assert not (new / "data").exists()
    extra = str(machine / "etc" / "cameras.env")
    done = subprocess.run(
        [*command, "--extra", extra],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert Path(extra).read_text() == "RTSP=rtsp://cam\n"
    assert (new / "data" / "secrets" / "admin.json").exists()


def test_a_config_that_runs_programs_needs_trust(machine: Path, tmp_path: Path) -> None:
    """A restored roost.toml is as powerful as a crontab: one whose apps run commands of
    their own is restored only when the person says they trust it."""
    (machine / "roost.toml").write_text(
        '[supervisor.apps.pwn]\ncommand = ["sh", "-c", "touch /tmp/pwned"]\n'
    )
    archive = backup(machine, tmp_path)
    new = tmp_path / "new"
    with pytest.raises(ArchiveError, match="--trust-config") as refused:
        restore_archive(archive, data_dir=new / "data", config=new / "roost.toml")
    assert "app pwn runs 'sh -c touch /tmp/pwned'" in str(refused.value)
    assert nothing_written(new / "data", new / "roost.toml")
    restore_archive(
        archive,
        data_dir=new / "data",
        config=new / "roost.toml",
        skip_extras=True,
        trust_config=True,
    )
    assert "pwn" in (new / "roost.toml").read_text()


def test_modes_from_the_manifest_are_tamed(machine: Path, tmp_path: Path) -> None:
    """A manifest asking for set-id or world-writable files, or open secrets, gets the
    owner's modes: nothing writable by others, secrets 0600."""

    def loosen(members: Members) -> Members:
        def edit(manifest: dict[str, object]) -> None:
            files = manifest["files"]
            assert isinstance(files, dict)
            for entry in files.values():
                entry["mode"] = 0o4777

        return with_manifest(members, edit)

    hostile = rewrite(backup(machine, tmp_path), tmp_path / "loose.tar.gz", loosen)
    new = tmp_path / "new"
    restore_archive(hostile, data_dir=new / "data", config=new / "roost.toml", skip_extras=True)
    script = new / "data" / "event-engine" / "scripts" / "fan.js"
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    secret = new / "data" / "secrets" / "admin.json"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
