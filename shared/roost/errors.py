"""roost's exceptions.

    RoostError
    ├── ConfigError        a config file or environment variable is wrong (one clear line)
    ├── TopicError         a topic or id that breaks the contract
    ├── CommandError       a command or request rejected; carries a machine-readable code
    └── BusError           the broker cannot be reached or refused us
        ├── RequestTimeout a request got no response in time
        └── TooLarge       a message over the broker's packet limit: refused, never sent

Foreign errors (aiomqtt, pydantic, OSError) are re-raised as these at the edge of the
library, `from None` where the original adds nothing for the user.
"""

from __future__ import annotations

from enum import StrEnum

# The exit code of a roost program stopped by a ConfigError (`roost-<service>` and the
# `roost` CLI alike). The supervisor does not restart a roost service that exits with it:
# the same config would fail the same way, so the app shows `failed` with the error line.
CONFIG_ERROR_EXIT = 2


class RoostError(Exception):
    """Base of every error roost raises on purpose."""


class ConfigError(RoostError):
    """A config file or environment variable is wrong; the message is one line."""


class TopicError(RoostError, ValueError):
    """A topic or id that breaks the topic contract."""


class BusError(RoostError):
    """The broker cannot be reached, refused the connection or dropped it."""


class RequestTimeout(BusError):
    """A request was sent but no response arrived in time."""


class TooLarge(BusError):
    """A message larger than the broker (or `[mqtt] max_packet_bytes`) accepts.

    Sending it would make the broker close the connection, and a queued message would go
    out again after every reconnect: it is refused instead, counted and logged."""

    def __init__(self, topic: str, size: int, limit: int) -> None:
        super().__init__(
            f"a message of {size} bytes to {topic} is over the broker's packet limit "
            f"of {limit} bytes; not sent"
        )
        self.topic = topic
        self.size = size
        self.limit = limit


class ErrorCode(StrEnum):
    """Codes carried on `error` topics and in error responses (docs/topics.md lists them)."""

    INVALID_JSON = "invalid_json"
    INVALID_ENCODING = "invalid_encoding"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    INVALID_COMMAND = "invalid_command"
    RETAINED_COMMAND = "retained_command"
    UNKNOWN_DEVICE = "unknown_device"
    UNKNOWN_PROPERTY = "unknown_property"
    NOT_SETTABLE = "not_settable"
    INVALID_VALUE = "invalid_value"
    OUT_OF_RANGE = "out_of_range"
    INVALID_OPTION = "invalid_option"
    TOO_LONG = "too_long"
    SUPERSEDED = "superseded"
    UNAVAILABLE = "unavailable"
    FAILED = "failed"
    INVALID_REQUEST = "invalid_request"
    UNKNOWN_METHOD = "unknown_method"
    INVALID_PARAMS = "invalid_params"
    TIMEOUT = "timeout"
    TOO_LARGE = "too_large"
    LIMIT_REACHED = "limit_reached"


class CommandError(RoostError):
    """A command or request was rejected; `code` says why in a word, `message` for people."""

    def __init__(self, code: ErrorCode, message: str, *, prop: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.prop = prop

    def __repr__(self) -> str:
        return f"CommandError({self.code.value!r}, {self.message!r}, prop={self.prop!r})"
