"""Time specs and InfluxDB line protocol: the small formats at the recorder's edges."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from roost_recorder.lineprotocol import LineProtocol
from roost_recorder.settings import RecorderSection
from roost_recorder.timespec import parse_duration, resolve

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("30s", 30), ("10m", 600), ("1h", 3600), ("2d", 172800), ("1w", 604800),
     ("1h30m", 5400), ("0.5h", 1800)],
)  # fmt: skip
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "1x", "-5m", "h1", "nan"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_times() -> None:
    assert resolve(-3600, NOW) == NOW - 3600
    assert resolve("-3600", NOW) == NOW - 3600
    assert resolve("-1h", NOW) == NOW - 3600
    assert resolve(1_700_000_000, NOW) == 1_700_000_000
    assert resolve("1700000000.5", NOW) == 1_700_000_000.5
    assert resolve("2023-11-14T22:13:20Z", NOW) == 1_700_000_000
    assert resolve("2023-11-14T23:13:20+01:00", NOW) == 1_700_000_000
    assert resolve("2023-11-14T22:13:20", NOW) == 1_700_000_000  # naive is UTC
    for bad in ("yesterday", "", True, float("inf")):
        with pytest.raises(ValueError, match=r"time|ISO-8601|boolean"):
            resolve(bad, NOW)  # type: ignore[arg-type]


def test_line_protocol_escapes_and_types() -> None:
    lp = LineProtocol("roost")
    assert lp.sample("i2c-bridge", "bme280-76", "temperature", 1000, 21.5) == (
        "roost,node=i2c-bridge,device=bme280-76,property=temperature value=21.5 1000"
    )
    assert lp.sample("n", "my dev,1", "a=b", 1, 2.0) == (
        "roost,node=n,device=my\\ dev\\,1,property=a\\=b value=2.0 1"
    )
    assert lp.change("n", "d", "on", 5, "true") == "roost,node=n,device=d,property=on value=1.0 5"
    assert lp.change("n", "d", "mode", 5, '"say \\"hi\\""') == (
        'roost,node=n,device=d,property=mode text="say \\"hi\\"" 5'
    )
    assert lp.change("n", "d", "x", 5, "null") is None
    assert lp.event("n", "d", 7, "e1", "start", "person") == (
        'roost_event,node=n,device=d,event_type=person,phase=start count=1.0,id="e1" 7'
    )


@pytest.mark.parametrize(
    ("section", "complaint"),
    [
        ({"influxdb": {"url": "localhost:8086"}}, "http://"),
        ({"retention_raw_days": 30, "retention_1m_days": 7}, "retention must grow"),
        ({"batch_size": 3000}, "receive_maximum"),
        ({"synchronous": "sometimes"}, "full"),
        ({"influxdb": {"measurement": "my measurement"}}, "pattern"),
    ],
)
def test_settings_mistakes(section: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        RecorderSection.model_validate(section)
