"""InfluxDB line protocol for recorded values: one measurement, tags node/device/property.

Numbers and switches (1/0) are the float field `value`; text and enum values the string
field `text`, so a field never changes type (InfluxDB refuses that). Events are the
measurement `<measurement>_event` with tags event_type and phase. Times are milliseconds.
"""

from __future__ import annotations

from pydantic_core import from_json


def _tag(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _string_field(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class LineProtocol:
    """Formats rows as lines; caches each series' prefix, the costly part."""

    def __init__(self, measurement: str) -> None:
        self.measurement = measurement
        self._prefixes: dict[tuple[str, str, str], str] = {}

    def _prefix(self, node: str, device: str, prop: str) -> str:
        key = (node, device, prop)
        prefix = self._prefixes.get(key)
        if prefix is None:
            prefix = (
                f"{self.measurement},node={_tag(node)},device={_tag(device)},property={_tag(prop)}"
            )
            self._prefixes[key] = prefix
        return prefix

    def sample(self, node: str, device: str, prop: str, ts: int, value: float) -> str:
        return f"{self._prefix(node, device, prop)} value={value!r} {ts}"

    def change(self, node: str, device: str, prop: str, ts: int, value_json: str) -> str | None:
        value = from_json(value_json)
        prefix = self._prefix(node, device, prop)
        if isinstance(value, bool):
            return f"{prefix} value={1.0 if value else 0.0} {ts}"
        if isinstance(value, str):
            return f"{prefix} text={_string_field(value)} {ts}"
        if value is None:
            return None
        return f"{prefix} text={_string_field(value_json)} {ts}"

    def event(
        self, node: str, device: str, ts: int, event_id: str, phase: str, event_type: str
    ) -> str:
        tags = f"{self.measurement}_event,node={_tag(node)},device={_tag(device)}"
        tags += f",event_type={_tag(event_type)}"
        if phase:
            tags += f",phase={_tag(phase)}"
        return f"{tags} count=1.0,id={_string_field(event_id)} {ts}"
