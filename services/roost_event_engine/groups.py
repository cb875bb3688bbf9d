"""Groups from config: which groups a device belongs to and, up the tree, their parents."""

from __future__ import annotations

from collections.abc import Mapping

from roost_event_engine.settings import Group


class GroupTree:
    def __init__(self, groups: Mapping[str, Group]) -> None:
        self.groups = dict(groups)
        self._chains: dict[str, list[str]] = {}

    def direct(self, node: str, device: str) -> list[str]:
        ref = f"{node}/{device}"
        return [name for name, g in self.groups.items() if ref in g.members or device in g.members]

    def chain(self, node: str, device: str) -> list[str]:
        """The device's own groups, then their parents level by level (nearest first),
        each group once."""
        ref = f"{node}/{device}"
        cached = self._chains.get(ref)
        if cached is not None:
            return cached
        out: list[str] = []
        level = self.direct(node, device)
        while level:
            upper: list[str] = []
            for name in level:
                if name in out:
                    continue
                out.append(name)
                parent = self.groups[name].parent
                if parent is not None:
                    upper.append(parent)
            level = upper
        self._chains[ref] = out
        return out

    def message(self) -> dict[str, object]:
        return {
            "op": "groups",
            "groups": {
                name: {"name": g.name or name, "parent": g.parent, "members": g.members}
                for name, g in self.groups.items()
            },
        }
