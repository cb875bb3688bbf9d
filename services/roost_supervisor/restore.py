"""`roost restore`: put a backup archive back, all or nothing.

An archive is untrusted input: it may come from another machine, a shared drive or an
attacker. So a restore
- writes only into this machine's data dir, its config file, and the `include` paths this
  machine's config names (or that the person restoring names with `--extra`), never where
  the archive's manifest says;
- takes regular files only (no links, devices or FIFOs), each listed in the manifest with
  its size and SHA-256, under `roost-backup/`;
- checks the declared sizes against the free space before it writes a byte, and caps the
  manifest and the number of members;
- unpacks into staging places beside each target and swaps them in only when everything is
  complete and verified: a failure leaves the old data as it was.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from roost.clock import utc_now
from roost_supervisor.archive import ROOT, ArchiveError, ExtraEntry, FileEntry, Manifest
from roost_supervisor.dbbackup import STAMP

MANIFEST = f"{ROOT}/manifest.json"
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_MEMBERS = 100_000
# Left free on every filesystem a restore writes to, beyond what it writes.
FREE_MARGIN = 64 * 1024 * 1024
CHUNK = 1 << 20


@dataclass
class RestoreReport:
    data_dir: Path
    config: Path | None
    files: int
    databases: list[str]
    moved_aside: list[Path]
    skipped_extras: list[str] = field(default_factory=list)


@dataclass
class _Target:
    """One place the restore replaces: staged beside it, swapped in at the end."""

    final: Path
    staging: Path
    is_dir: bool
    aside: Path | None = None
    committed: bool = False


def contents(archive: Path) -> tuple[Manifest, bytes | None]:
    """The archive's manifest and config file, in one streamed pass, each read with a
    size cap (the config is None when the archive holds none)."""
    config: bytes | None = None
    for member, tar in _members(archive):
        if member.name == f"{ROOT}/config/roost.toml" and member.isfile():
            if member.size > MAX_MANIFEST_BYTES:
                raise ArchiveError(f"{archive}: its roost.toml is over 16 MiB")
            handle = tar.extractfile(member)
            config = handle.read() if handle is not None else None
        elif member.name == MANIFEST:
            return _parse_manifest(archive, member, tar), config
    raise ArchiveError(f"{archive} has no {MANIFEST}: not a roost backup")


def read_manifest(archive: Path) -> Manifest:
    """The archive's manifest, read with a size cap (it is the last member)."""
    return contents(archive)[0]


def restore_archive(
    archive: Path,
    *,
    data_dir: Path,
    config: Path,
    force: bool = False,
    include: Sequence[Path] = (),
    skip_extras: bool = False,
    trust_config: bool = False,
) -> RestoreReport:
    """Restore `archive` into `data_dir` and `config` (blocking), all or nothing.

    Extras (files the old machine's `[supervisor.backup] include` named) go back only to a
    path in `include`; any other extra is refused unless `skip_extras`. Places that already
    have content are refused unless `force`, which moves them aside once the new content
    is complete. A config that runs programs of its own (apps with a `command`) is
    refused unless `trust_config`."""
    data_dir, config = data_dir.resolve(), config.resolve()
    # No single filesystem here can take more than the largest free space: a bomb that
    # declares more is refused at its first header, before its data is even read.
    ceiling = max(shutil.disk_usage(_existing_ancestor(p)).free for p in (data_dir, config))
    listing, manifest, config_text = _survey(archive, ceiling)
    programs = programs_in(config_text)
    if programs and not trust_config:
        raise ArchiveError(
            f"the archive's roost.toml makes roost up run programs: {'; '.join(programs)}. "
            "A config is as powerful as a crontab: check it, then restore with "
            "--trust-config (nothing was written)"
        )
    allowed = {Path(path).expanduser().resolve() for path in include}
    extras, skipped = _extras_to_restore(archive, manifest, allowed, skip_extras)
    destinations = _plan(listing, manifest, data_dir, config, extras, archive)
    targets = _targets(data_dir, config if manifest.config else None, extras)
    busy = [t.final for t in targets if _occupied(t.final)]
    if busy and not force:
        shown = ", ".join(str(path) for path in busy)
        raise ArchiveError(
            f"{shown} already exist(s) with content; restore into an empty place, or pass "
            "--force to move the current files aside once the restore is complete"
        )
    _check_space(archive, {dest: manifest.files[name].size for name, dest in destinations})
    staged = {t.final: t for t in targets}
    try:
        written = _unpack(archive, manifest, destinations, staged)
        _commit(targets)
    except BaseException:
        _discard(targets)
        raise
    secrets = data_dir / "secrets"
    if secrets.is_dir():
        os.chmod(secrets, 0o700)
    return RestoreReport(
        data_dir,
        config if manifest.config else None,
        written,
        manifest.databases,
        [t.aside for t in targets if t.aside is not None],
        skipped,
    )


# reading -----------------------------------------------------------------------------


def _members(archive: Path) -> Iterable[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    """Every member of the archive in order, streamed (nothing is held but the headers)."""
    try:
        with tarfile.open(archive, "r|gz") as tar:
            for count, member in enumerate(tar, start=1):
                if count > MAX_MEMBERS:
                    raise ArchiveError(f"{archive} has more than {MAX_MEMBERS} members: refused")
                yield member, tar
    except FileNotFoundError:
        raise ArchiveError(f"{archive}: no such file") from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveError(f"{archive} is not a roost backup archive (unreadable: {exc})") from None


def _parse_manifest(archive: Path, member: tarfile.TarInfo, tar: tarfile.TarFile) -> Manifest:
    if not member.isfile() or member.size > MAX_MANIFEST_BYTES:
        raise ArchiveError(
            f"{archive}: the manifest is not a file of at most {MAX_MANIFEST_BYTES >> 20} MiB"
        )
    handle = tar.extractfile(member)
    if handle is None:
        raise ArchiveError(f"{archive}: the manifest cannot be read")
    try:
        return Manifest.model_validate_json(handle.read(MAX_MANIFEST_BYTES + 1))
    except ValidationError as exc:
        raise ArchiveError(f"{archive}: unreadable manifest: {exc.errors()[0]['msg']}") from None


def _survey(archive: Path, ceiling: int) -> tuple[dict[str, int], Manifest, bytes | None]:
    """One pass over the headers: every member a safe regular file under `roost-backup/`,
    the declared sizes (in all at most `ceiling`), the manifest and the config file."""
    listing: dict[str, int] = {}
    config: bytes | None = None
    declared = 0
    manifest: Manifest | None = None
    for member, tar in _members(archive):
        if member.name == MANIFEST:
            manifest = _parse_manifest(archive, member, tar)
            continue
        if member.isdir():
            _safe_parts(member.name)
            continue
        if not member.isfile():
            raise ArchiveError(
                f"refusing {member.name!r}: a roost backup holds regular files only "
                "(no links, devices or FIFOs)"
            )
        parts = _safe_parts(member.name)
        if parts[0] != ROOT or len(parts) < 3:
            raise ArchiveError(f"unexpected member {member.name!r} in the archive")
        name = "/".join(parts[1:])
        if name in listing:
            raise ArchiveError(f"{member.name!r} appears twice in the archive")
        listing[name] = member.size
        if name == "config/roost.toml" and member.size <= MAX_MANIFEST_BYTES:
            handle = tar.extractfile(member)
            config = handle.read() if handle is not None else None
        declared += member.size
        if declared > ceiling:
            raise ArchiveError(
                f"{archive} declares more than {_size(declared)}, more than any filesystem "
                f"here has free ({_size(ceiling)}): nothing was written"
            )
    if manifest is None:
        raise ArchiveError(f"{archive} has no {MANIFEST}: not a roost backup")
    for name, size in listing.items():
        entry = manifest.files.get(name)
        if entry is None:
            raise ArchiveError(f"{ROOT}/{name!r} is not listed in the manifest")
        if entry.size != size:
            raise ArchiveError(f"{name}: the archive and its manifest disagree on its size")
    missing = sorted(set(manifest.files) - set(listing))
    if missing:
        raise ArchiveError(
            f"{archive} is incomplete: {len(missing)} file(s) of the manifest are missing "
            f"(first: {missing[0]})"
        )
    return listing, manifest, config if manifest.config is not None else None


def programs_in(config: bytes | None) -> list[str]:
    """What a config would make `roost up` run beyond roost's own services: apps with a
    `command`, environment given to apps, a broker template of its own."""
    if config is None:
        return []
    try:
        document = tomllib.loads(config.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ArchiveError(f"the archive's roost.toml cannot be read: {exc}") from None
    found: list[str] = []
    apps = document.get("supervisor", {}).get("apps", {})
    for name, app in apps.items() if isinstance(apps, dict) else ():
        if not isinstance(app, dict):
            continue
        if app.get("command") is not None:
            command = app["command"]
            shown = " ".join(map(str, command)) if isinstance(command, list) else str(command)
            found.append(f"app {name} runs {shown[:200]!r}")
        if app.get("env"):
            found.append(f"app {name} sets environment {sorted(app['env'])[:10]}")
    template = document.get("up", {}).get("template")
    if template is not None:
        found.append(f"the broker runs with the template {str(template)[:200]!r}")
    return found


def _safe_parts(name: str) -> tuple[str, ...]:
    parts = tuple(name.rstrip("/").split("/"))
    if name.startswith("/") or any(part in ("..", "", ".") for part in parts):
        raise ArchiveError(f"refusing unsafe path {name!r} in the archive")
    if any("\x00" in part or "\\" in part for part in parts):
        raise ArchiveError(f"refusing unsafe path {name!r} in the archive")
    return parts


# planning ------------------------------------------------------------------------------


def _extras_to_restore(
    archive: Path, manifest: Manifest, allowed: set[Path], skip: bool
) -> tuple[dict[str, tuple[ExtraEntry, Path]], list[str]]:
    """The archive's extras that may be restored here, each with its local target."""
    chosen: dict[str, tuple[ExtraEntry, Path]] = {}
    refused: list[str] = []
    for entry in manifest.extras:
        _safe_parts(entry.archive)
        target = Path(entry.path).expanduser()
        local = target.resolve() if target.is_absolute() else None
        if local is not None and local in allowed:
            chosen[entry.archive] = (entry, local)
        else:
            refused.append(entry.path)
    if refused and not skip:
        listed = ", ".join(refused)
        raise ArchiveError(
            f"{archive} also holds {listed} from the old machine, which this machine's "
            "[supervisor.backup] include does not name; restore each there with "
            "--extra PATH, or leave them out with --skip-extras (nothing was written)"
        )
    return chosen, refused


def _plan(
    listing: dict[str, int],
    manifest: Manifest,
    data_dir: Path,
    config: Path,
    extras: dict[str, tuple[ExtraEntry, Path]],
    archive: Path,
) -> list[tuple[str, Path]]:
    """(archive name, final destination) for every file that will be written."""
    plan: list[tuple[str, Path]] = []
    for name in listing:
        parts = tuple(name.split("/"))
        kind = parts[0]
        if kind == "data":
            plan.append((name, data_dir.joinpath(*parts[1:])))
        elif kind == "config" and manifest.config == name:
            plan.append((name, config))
        elif kind == "extra" and len(parts) >= 3:
            key = f"extra/{parts[1]}"
            if key in extras:
                entry, base = extras[key]
                if entry.kind == "file":
                    if len(parts) != 3:
                        raise ArchiveError(f"{name!r}: a file extra holds one file")
                    plan.append((name, base))
                else:
                    plan.append((name, base.joinpath(*parts[2:])))
            elif not any(e.archive == key for e in manifest.extras):
                raise ArchiveError(f"unexpected member {name!r} in {archive}")
        else:
            raise ArchiveError(f"unexpected member {name!r} in {archive}")
    return plan


def _targets(
    data_dir: Path, config: Path | None, extras: dict[str, tuple[ExtraEntry, Path]]
) -> list[_Target]:
    stamp = utc_now().strftime(STAMP)
    finals: list[tuple[Path, bool]] = [(data_dir, True)]
    if config is not None:
        finals.append((config, False))
    finals.extend((base, entry.kind == "dir") for entry, base in extras.values())
    targets: list[_Target] = []
    for final, is_dir in finals:
        if any(final == t.final for t in targets):
            raise ArchiveError(f"{final} is the target of two parts of the archive")
        staging = final.with_name(f".{final.name}.restoring-{stamp}")
        targets.append(_Target(final, staging, is_dir))
    for target in targets:
        for other in targets:
            if target is not other and target.is_dir and other.final.is_relative_to(target.final):
                raise ArchiveError(f"{other.final} lies inside {target.final}: refused")
    return targets


def _occupied(path: Path) -> bool:
    if path.is_symlink() or path.is_file():
        return True
    return path.is_dir() and any(path.iterdir())


def _existing_ancestor(path: Path) -> Path:
    while not path.exists():
        path = path.parent
    return path


def _check_space(archive: Path, sizes: dict[Path, int]) -> None:
    """Every filesystem written to must hold what the archive declares, plus a margin."""
    needed: dict[int, tuple[Path, int]] = {}
    for destination, size in sizes.items():
        anchor = _existing_ancestor(destination.parent)
        device = anchor.stat().st_dev
        where, total = needed.get(device, (anchor, 0))
        needed[device] = (where, total + size)
    for where, total in needed.values():
        free = shutil.disk_usage(where).free
        if total + FREE_MARGIN > free:
            raise ArchiveError(
                f"{archive} expands to {_size(total)} under {where}, which has {_size(free)} "
                f"free (a margin of {_size(FREE_MARGIN)} is kept): nothing was written"
            )


def _size(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


# writing -------------------------------------------------------------------------------


def _staged_path(destination: Path, staged: dict[Path, _Target]) -> Path:
    for final, target in staged.items():
        if destination == final:
            return target.staging
        if target.is_dir and destination.is_relative_to(final):
            return target.staging / destination.relative_to(final)
    raise ArchiveError(f"{destination} lies outside every restore target")  # pragma: no cover


def _unpack(
    archive: Path,
    manifest: Manifest,
    destinations: list[tuple[str, Path]],
    staged: dict[Path, _Target],
) -> int:
    where = dict(destinations)
    for target in staged.values():
        if target.is_dir:
            target.staging.parent.mkdir(parents=True, exist_ok=True)
            target.staging.mkdir(mode=0o700)
    written = 0
    for member, tar in _members(archive):
        if member.name == MANIFEST or member.isdir():
            continue
        name = "/".join(_safe_parts(member.name)[1:])
        destination = where.get(name)
        if destination is None:
            continue  # an extra the person chose to leave out
        handle = tar.extractfile(member)
        if handle is None:
            raise ArchiveError(f"{member.name!r} cannot be read")
        _write_checked(handle, _staged_path(destination, staged), manifest.files[name], name)
        written += 1
    if written != len(destinations):
        raise ArchiveError(f"{archive} changed while it was restored: nothing was replaced")
    return written


def _write_checked(source: IO[bytes], path: Path, entry: FileEntry, name: str) -> None:
    digest = hashlib.sha256()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    size = 0
    with os.fdopen(fd, "wb") as out:
        while block := source.read(CHUNK):
            size += len(block)
            if size > entry.size:
                raise ArchiveError(f"{name} is larger than its manifest says")
            digest.update(block)
            out.write(block)
    if digest.hexdigest() != entry.sha256:
        raise ArchiveError(f"{name} is damaged in the archive (SHA-256 mismatch)")
    # No set-id bits, nothing writable by others; secrets are the owner's alone.
    secret = name.startswith("data/secrets/")
    os.chmod(path, 0o600 if secret else entry.mode & 0o755)


def _commit(targets: list[_Target]) -> None:
    """Swap every staged target in; on a failure put back what was already swapped."""
    stamp = utc_now().strftime(STAMP)
    try:
        for target in targets:
            final = target.final
            if _occupied(final):
                target.aside = final.with_name(f"{final.name}.before-restore-{stamp}")
                final.rename(target.aside)
            elif final.is_dir():
                final.rmdir()
            final.parent.mkdir(parents=True, exist_ok=True)
            target.staging.rename(final)
            target.committed = True
    except OSError as exc:
        for target in reversed(targets):
            if target.committed:
                target.final.rename(target.staging)
                target.committed = False
            if target.aside is not None:
                target.aside.rename(target.final)
                target.aside = None
        raise ArchiveError(f"could not put the restored files in place: {exc}") from None


def _discard(targets: list[_Target]) -> None:
    for target in targets:
        if target.committed:
            continue
        if target.staging.is_dir() and not target.staging.is_symlink():
            shutil.rmtree(target.staging, ignore_errors=True)
        else:
            target.staging.unlink(missing_ok=True)
