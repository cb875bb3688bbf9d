"""App log files: rotation by size, and tails and follow-ups across a rotation."""

from __future__ import annotations

from pathlib import Path

from roost_supervisor.logfile import RotatingLog, after, tail


def test_rotates_by_size_and_keeps_the_newest_files(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    log = RotatingLog(path, max_bytes=100, backups=2)
    for i in range(30):
        log.write(f"line {i:02d}\n".encode())  # 8 bytes each
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.log", "app.log.1", "app.log.2"]
    assert all(p.stat().st_size <= 100 for p in tmp_path.iterdir())
    assert path.read_text().splitlines()[-1] == "line 29"
    # The tail reaches into the rotated file when the current one is short.
    current = len(path.read_text().splitlines())
    chunk = tail(path, current + 3)
    assert chunk.lines[-1] == "line 29"
    assert len(chunk.lines) == current + 3
    assert chunk.lines == [f"line {i:02d}" for i in range(30 - current - 3, 30)]


def test_after_a_cursor_only_new_lines_even_across_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    log = RotatingLog(path, max_bytes=70, backups=1)
    log.write(b"one\ntwo\n")
    cursor = tail(path, 10).cursor
    assert after(path, cursor, 100).lines == []
    log.write(b"three\n")
    step = after(path, cursor, 100)
    assert step.lines == ["three"]
    log.write(b"x" * 60 + b"\n")  # rotates: "three" is now in app.log.1
    log.write(b"four\n")
    assert after(path, step.cursor, 100).lines == ["x" * 60, "four"]
    log.close()


def test_long_lines_and_bad_bytes_are_kept_readable(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"\xff\xfe broken\n" + b"y" * 20000 + b"\n")
    lines = tail(path, 5).lines
    assert lines[0].endswith("broken")
    assert len(lines[1]) < 9000 and lines[1].endswith("…")
    assert tail(tmp_path / "missing.log", 5).lines == []
