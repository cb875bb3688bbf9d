import stat
from pathlib import Path

from roost.secrets import (
    admin_path,
    hash_secret,
    load_admin_record,
    new_secret,
    store_admin_secret,
    verify_secret,
)


def test_secret_is_stored_hashed_and_verifies(tmp_path: Path) -> None:
    secret = new_secret()
    path = store_admin_secret(tmp_path, secret)
    assert path == admin_path(tmp_path)
    assert secret not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    record = load_admin_record(tmp_path)
    assert record is not None
    assert verify_secret(secret, record)
    assert not verify_secret(secret + "x", record)


def test_same_secret_hashes_differently_each_time() -> None:
    assert hash_secret("a").hash != hash_secret("a").hash


def test_no_record_means_none(tmp_path: Path) -> None:
    assert load_admin_record(tmp_path) is None
