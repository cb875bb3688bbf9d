"""What the VMs know about every device: meta, availability and a value history per
property, fed from the state mirror and replayed to each new worker.

Every state change gets a sequence number. A trigger remembers the number current when
it arrived; the VM answers `home.device(x).prop` with the newest value at or before that
number (the snapshot at trigger time) and `.latest(prop)` with the newest value of all.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from roost.mirror import DeviceView
from roost.models.meta import DeviceMeta
from roost_event_engine.keys import PropertyTable

Entry = tuple[int, str, Any]  # seq, ts, value


@dataclass
class DeviceEntry:
    ref: str
    node: str
    id: str
    history: int
    name: str | None = None
    props: dict[str, dict[str, Any]] = field(default_factory=dict)
    online: bool | None = None
    rings: dict[str, deque[Entry]] = field(default_factory=dict)

    def message(self, *, with_history: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "op": "device",
            "ref": self.ref,
            "node": self.node,
            "id": self.id,
            "name": self.name,
            "props": self.props,
            "online": self.online,
            "history": self.history,
        }
        if with_history:
            out["history_rings"] = {p: [list(e) for e in ring] for p, ring in self.rings.items()}
        return out

    def latest(self, prop: str) -> Any:
        ring = self.rings.get(prop)
        return ring[-1][2] if ring else None


def meta_props(meta: DeviceMeta | None) -> dict[str, dict[str, Any]]:
    if meta is None:
        return {}
    return {
        prop: spec.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        | {"kind": spec.kind.value, "settable": spec.accepts_commands}
        for prop, spec in meta.properties.items()
    }


class DeviceTable:
    def __init__(self, history_sizes: PropertyTable[int]) -> None:
        self.devices: dict[str, DeviceEntry] = {}
        self.seq = 0
        self._sizes = history_sizes

    def entry(self, node: str, device: str) -> DeviceEntry:
        ref = f"{node}/{device}"
        found = self.devices.get(ref)
        if found is None:
            size = max(2, self._sizes.lookup(node, device, None))
            found = self.devices[ref] = DeviceEntry(ref, node, device, size)
        return found

    def describe(self, view: DeviceView, online: bool) -> dict[str, Any]:
        entry = self.entry(view.node, view.id)
        entry.name = view.meta.name if view.meta else None
        entry.props = meta_props(view.meta)
        entry.online = online
        return entry.message()

    def set_online(self, ref: str, online: bool) -> dict[str, Any] | None:
        entry = self.devices.get(ref)
        if entry is None or entry.online == online:
            return None
        entry.online = online
        return {"op": "online", "ref": ref, "online": online}

    def record(self, node: str, device: str, ts: str, values: dict[str, Any]) -> dict[str, Any]:
        """A state change: the next sequence number and the message for the VMs."""
        self.seq += 1
        entry = self.entry(node, device)
        for prop, value in values.items():
            ring = entry.rings.get(prop)
            if ring is None:
                ring = entry.rings[prop] = deque(maxlen=entry.history)
            ring.append((self.seq, ts, value))
        return {
            "op": "state",
            "seq": self.seq,
            "ref": entry.ref,
            "node": node,
            "id": device,
            "ts": ts,
            "values": values,
        }

    def remove(self, ref: str) -> dict[str, Any]:
        self.devices.pop(ref, None)
        return {"op": "remove", "ref": ref}

    def snapshot(self) -> list[dict[str, Any]]:
        return [entry.message(with_history=True) for entry in self.devices.values()]
