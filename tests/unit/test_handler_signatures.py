"""Bun-style short handler signatures (issue 10, item 18): a handler may leave out trailing
parameters, as in JavaScript; one needing more is refused at startup with the fix."""

from __future__ import annotations

import inspect
import threading
from typing import Any

import pytest

from bunws.core.options import MappingError, compile_mapping
from bunws.endpoint import Endpoint


async def _calls_with(handler: Any, *args: Any) -> Any:
    result = handler(*args)
    if inspect.iscoroutine(result):
        result = await result
    return result


def _short_handlers(seen: list[tuple[Any, ...]], asynchronous: bool) -> list[Any]:
    """Handlers taking 0, 1 and 2 parameters that record what they were called with."""

    def handler0() -> str:
        seen.append(())
        return "ok"

    def handler1(a: Any) -> str:
        seen.append((a,))
        return "ok"

    def handler2(a: Any, b: Any) -> str:
        seen.append((a, b))
        return "ok"

    async def ahandler0() -> str:
        return handler0()

    async def ahandler1(a: Any) -> str:
        return handler1(a)

    async def ahandler2(a: Any, b: Any) -> str:
        return handler2(a, b)

    return [ahandler0, ahandler1, ahandler2] if asynchronous else [handler0, handler1, handler2]


@pytest.mark.parametrize(
    ("key", "full"),
    [
        ("open", ("ws",)),
        ("message", ("ws", "hello")),
        ("close", ("ws", 1000, "bye")),
        ("drain", ("ws",)),
        ("error", ("ws", RuntimeError("boom"))),
    ],
)
@pytest.mark.parametrize("asynchronous", [False, True])
async def test_a_handler_taking_fewer_parameters_gets_only_as_many(
    key: str, full: tuple[Any, ...], asynchronous: bool
) -> None:
    """``close(ws)``, ``message(ws)``, even ``drain()``: called with what they take."""
    seen: list[tuple[Any, ...]] = []
    for taken, handler in enumerate(_short_handlers(seen, asynchronous)[: len(full)]):
        seen.clear()
        config = compile_mapping("chat", {key: handler})
        stored = getattr(config, key)
        assert inspect.iscoroutinefunction(stored) is asynchronous  # sync stays sync (ORM)
        assert stored.__qualname__ == handler.__qualname__  # routes and logs name the user's
        assert await _calls_with(stored, *full) == "ok"
        assert seen == [full[:taken]]


def test_a_handler_taking_the_full_list_is_stored_unwrapped() -> None:
    """No extra call on the per-message path for the usual signature (nor for ``*args``)."""

    def close(ws: Any, code: int, reason: str) -> None: ...

    def message(ws: Any, *parts: Any) -> None: ...

    def drain(ws: Any, extra: int = 0) -> None: ...

    config = compile_mapping("chat", {"close": close, "message": message, "drain": drain})
    assert config.close is close and config.message is message and config.drain is drain


def test_a_keyword_only_parameter_with_a_default_is_accepted_and_keeps_its_default() -> None:
    def close(ws: Any, *, verbose: bool = False) -> str:
        return f"verbose={verbose}"

    config = compile_mapping("chat", {"close": close})
    assert config.close is not None and config.close("ws", 1000, "") == "verbose=False"


def test_a_handler_needing_more_parameters_is_refused_with_endpoint_key_and_fix() -> None:
    def message(ws: Any, message: str, room: str) -> None: ...

    with pytest.raises(MappingError) as raised:
        compile_mapping("chat", {"message": message})
    text = str(raised.value)
    assert "endpoint 'chat'" in text and "handler 'message'" in text
    assert "takes parameters (ws" in text and "room" in text
    assert "define it as `message(ws, message)`" in text
    assert "trailing parameters may be left out" in text


def test_a_required_keyword_only_parameter_is_refused_by_name() -> None:
    def close(ws: Any, code: int, reason: str, *, room: str) -> None: ...

    with pytest.raises(MappingError) as raised:
        compile_mapping("chat", {"close": close})
    text = str(raised.value)
    assert "endpoint 'chat'" in text and "handler 'close'" in text
    assert "keyword-only parameter 'room'" in text and "give it a default" in text


async def test_endpoint_calls_a_short_sync_handler_in_a_worker_thread() -> None:
    """The trimmed sync handler still runs through the worker-thread path (ORM allowed)."""
    threads: list[int] = []

    def close(ws: Any) -> None:
        threads.append(threading.get_ident())

    endpoint = Endpoint("t/unit-short/", websocket={"close": close})
    await endpoint.handlers["close"]("ws", 1000, "bye")
    assert threads and threads[0] != threading.get_ident()
