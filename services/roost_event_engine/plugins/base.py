"""The plugin base class, its registry and what the engine offers plugins."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from roost.node import Node
from roost_event_engine.settings import EngineSection
from roost_event_engine.timers import Schedules


class PluginError(Exception):
    """A plugin call that cannot be carried out; reported as the calling script's error."""


class PluginHost(Protocol):
    """The parts of the engine plugins use."""

    node: Node
    section: EngineSection
    schedules: Schedules

    def call_script(
        self, script: str, function: str, args: Any, reason: str, extra: dict[str, Any]
    ) -> None:
        """Run `function` of `script` later as its own trigger."""

    def engine_event(self, kind: str, data: dict[str, Any]) -> None:
        """Publish an event on the engine's own device."""


class Plugin:
    name: ClassVar[str]
    callback: ClassVar[int | None] = None
    registry: ClassVar[dict[str, type[Plugin]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Plugin.registry[cls.name] = cls

    def __init__(self, host: PluginHost) -> None:
        self.host = host

    async def call(self, script: str, args: list[Any]) -> None:
        raise NotImplementedError

    @staticmethod
    def arg(args: list[Any], index: int, default: Any = None) -> Any:
        return args[index] if len(args) > index and args[index] is not None else default
