"""Validation of the Bun-style ``websocket`` mapping into a frozen ``SocketConfig``.

Pure: imports only the standard library. Every mistake raises ``MappingError`` (or
``UnsupportedOption``) naming the endpoint, the key and the fix; ``bunws.endpoint`` turns them
into the Django-facing ``ConfigurationError``/``UnsupportedFeature`` with the same message.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bunws.core.deflate import DeflateConfig, parse_per_message_deflate

MiB = 1024 * 1024

#: Handler keys and the positional parameters each is called with.
HANDLER_PARAMS: dict[str, tuple[str, ...]] = {
    "open": ("ws",),
    "message": ("ws", "message"),
    "close": ("ws", "code", "reason"),
    "drain": ("ws",),
    "ping": ("ws", "data"),  # the peer's ping payload (bytes); autobahn still answers it
    "pong": ("ws", "data"),  # the peer's pong payload (bytes), solicited or not
    "error": ("ws", "exc"),
    "presence": ("ws", "topic", "diff"),  # a batched presence diff (docs/presence.md)
}

#: Option keys with Bun's defaults (``idle_timeout`` in seconds, sizes in bytes).
OPTION_DEFAULTS: dict[str, int | bool] = {
    "max_payload_length": 16 * MiB,
    "idle_timeout": 120,
    "backpressure_limit": 16 * MiB,
    "close_on_backpressure_limit": False,
    "publish_to_self": False,
    "send_pings": True,
    "per_message_deflate": False,
}

_BOOL_OPTIONS = {
    "close_on_backpressure_limit",
    "publish_to_self",
    "send_pings",
}

#: Keys Bun has that daphne cannot support, with the reason.
UNSUPPORTED: dict[str, str] = {}


class MappingError(ValueError):
    """A ``websocket`` mapping is wrong; the message names the endpoint, the key and the fix."""


class UnsupportedOption(MappingError):
    """A Bun key or value bunws cannot honour on daphne; the message says why."""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True, slots=True)
class SocketConfig:
    """The validated handlers and options of one endpoint."""

    open: Callable[..., Any] | None
    message: Callable[..., Any] | None
    close: Callable[..., Any] | None
    drain: Callable[..., Any] | None
    ping: Callable[..., Any] | None
    pong: Callable[..., Any] | None
    error: Callable[..., Any] | None
    presence: Callable[..., Any] | None
    max_payload_length: int
    idle_timeout: int
    backpressure_limit: int
    close_on_backpressure_limit: bool
    publish_to_self: bool
    send_pings: bool
    #: As given (False, True or Bun's mapping); ``deflate`` is what it negotiates.
    per_message_deflate: Any = field(hash=False)
    deflate: DeflateConfig | None = None

    def handler_names(self) -> list[str]:
        """The handler keys this endpoint defines, in Bun's order."""
        return [key for key in HANDLER_PARAMS if getattr(self, key) is not None]

    def options(self) -> dict[str, Any]:
        """The option values, defaults included."""
        return {key: getattr(self, key) for key in OPTION_DEFAULTS}


def _fail(endpoint: str, message: str) -> MappingError:
    return MappingError(f"websocket mapping of endpoint {endpoint!r}: {message}")


def _check_key(endpoint: str, key: object) -> str:
    if not isinstance(key, str):
        raise _fail(endpoint, f"key {key!r} is not a string; keys are handler or option names.")
    if key in UNSUPPORTED:
        raise UnsupportedOption(
            f"websocket mapping of endpoint {endpoint!r}: key {key!r} is not supported: "
            f"{UNSUPPORTED[key]}."
        )
    if key in HANDLER_PARAMS or key in OPTION_DEFAULTS:
        return key
    known = [*HANDLER_PARAMS, *OPTION_DEFAULTS]
    snake = _snake(key)
    if snake != key and snake in known:
        raise _fail(
            endpoint,
            f"unknown key {key!r}: bunws spells options in snake_case: did you mean {snake!r}?",
        )
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = (
        f"did you mean {close[0]!r}?" if close else "the known keys are " + ", ".join(known) + "."
    )
    raise _fail(endpoint, f"unknown key {key!r}: {hint}")


def _check_handler(endpoint: str, key: str, handler: object) -> Callable[..., Any]:
    """Validate a handler's signature; one that takes fewer positional parameters than bunws
    passes (``close(ws)``, as JavaScript allows) comes back wrapped to receive only those."""
    params = HANDLER_PARAMS[key]
    signature = f"{key}({', '.join(params)})"
    if not callable(handler):
        raise _fail(
            endpoint,
            f"handler {key!r} must be a function like `def {signature}`, got {handler!r}.",
        )
    try:
        sig = inspect.signature(handler)
    except (TypeError, ValueError):  # builtins without a signature: trust them
        return handler
    name = getattr(handler, "__qualname__", handler)
    positional = 0
    required = 0
    for param in sig.parameters.values():
        if param.kind is param.VAR_POSITIONAL:
            return handler  # takes any number
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            positional += 1
            required += param.default is param.empty
        elif param.kind is param.KEYWORD_ONLY and param.default is param.empty:
            raise _fail(
                endpoint,
                f"handler {key!r} ({name!r}) requires the keyword-only parameter "
                f"{param.name!r}, which bunws never passes: give it a default or remove it "
                f"(bunws calls `{signature}`).",
            )
    if required > len(params):
        raise _fail(
            endpoint,
            f"handler {key!r} ({name!r}) takes parameters {sig} but bunws calls it with "
            f"{len(params)}: define it as `{signature}` (trailing parameters may be left out, "
            f"as in JavaScript).",
        )
    if positional >= len(params):
        return handler  # the usual case: called as it is, no wrapper on the message path
    return _first_arguments(handler, positional)


def _first_arguments(handler: Callable[..., Any], count: int) -> Callable[..., Any]:
    """``handler`` called with only its first ``count`` arguments; async stays async (so it
    runs on the loop) and sync stays sync (so it runs in a worker thread)."""
    if inspect.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def call_async(*args: Any) -> Any:
            return await handler(*args[:count])

        return call_async

    @functools.wraps(handler)
    def call(*args: Any) -> Any:
        return handler(*args[:count])

    return call


def _check_option(endpoint: str, key: str, value: object) -> int | bool:
    if key in _BOOL_OPTIONS:
        if not isinstance(value, bool):
            raise _fail(endpoint, f"option {key!r} must be True or False, got {value!r}.")
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        unit = "seconds" if key == "idle_timeout" else "bytes"
        raise _fail(
            endpoint,
            f"option {key!r} must be a whole number of {unit} >= 0 (0 disables it), got {value!r}.",
        )
    return value


def compile_mapping(endpoint: str, websocket: object) -> SocketConfig:
    """Validate a Bun-style ``websocket`` mapping and return its ``SocketConfig``."""
    if not isinstance(websocket, Mapping):
        raise _fail(
            endpoint,
            f"expected a dict of handlers and options such as "
            f"{{'message': message}}, got {type(websocket).__name__} {websocket!r}.",
        )
    values: dict[str, Any] = dict.fromkeys(HANDLER_PARAMS)
    values.update(OPTION_DEFAULTS)
    for raw_key, value in websocket.items():
        key = _check_key(endpoint, raw_key)
        if key in HANDLER_PARAMS:
            values[key] = None if value is None else _check_handler(endpoint, key, value)
        elif key == "per_message_deflate":
            try:
                values["deflate"] = parse_per_message_deflate(endpoint, value)
            except ValueError as exc:
                raise MappingError(str(exc)) from None
            values[key] = dict(value) if isinstance(value, Mapping) else value
        else:
            values[key] = _check_option(endpoint, key, value)
    if not any(values[key] is not None for key in HANDLER_PARAMS):
        raise _fail(
            endpoint,
            "it defines no handler: add at least one of "
            + ", ".join(f"'{k}'" for k in HANDLER_PARAMS)
            + " (for example {'message': message}).",
        )
    return SocketConfig(**values)
