"""daphne's objects behind one connection, as bunws finds and reads them.

From the ``send`` callable the application gets, ``find_protocol`` reaches daphne's autobahn
protocol; from there, daphne's record of the connection (``Server.connections``) and the
Twisted transport below it, where ``register_producer`` hooks up backpressure and
``pause_reading``/``resume_reading`` stop and restart reading (``ws.pause()``). Everything here
runs on daphne's event loop thread, which is also Twisted's reactor thread;
``tests/unit/test_daphne_pins.py`` pins the attributes used to the supported daphne versions.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from bunws.core.transport import FlowControl

logger = logging.getLogger("bunws")

try:  # daphne is a dependency, but bunws also runs on other ASGI servers.
    from daphne.ws_protocol import WebSocketProtocol as _DaphneProtocol
except ImportError:  # pragma: no cover - daphne is installed with bunws
    _DaphneProtocol = None

_TCP_TYPES: tuple[type, ...] = ()
try:  # what daphne serves on; looked up once, not per flush
    from twisted.internet.tcp import Connection

    _TCP_TYPES = (Connection,)
except ImportError:  # pragma: no cover - daphne installs Twisted
    pass


def find_protocol(send: Any) -> Any | None:
    """Return daphne's protocol behind ``send``, unwrapping Channels' session wrapper."""
    if _DaphneProtocol is None:
        return None
    for _ in range(8):  # a few known wrappers deep, never a loop
        if isinstance(send, functools.partial):
            if send.args and isinstance(send.args[0], _DaphneProtocol):
                return send.args[0]
            return None
        owner = getattr(send, "__self__", None)
        inner = getattr(owner, "real_send", None)  # channels.sessions.InstanceSessionWrapper
        if inner is None:
            return None
        send = inner
    return None


def connection_details(protocol: Any) -> dict[str, Any] | None:
    """daphne's record of this connection in ``Server.connections``, if it has one."""
    connections = getattr(getattr(protocol, "server", None), "connections", None)
    details = connections.get(protocol) if isinstance(connections, dict) else None
    return details if isinstance(details, dict) else None


def gone(protocol: Any) -> bool:
    """Whether daphne already saw this connection close (its ``onClose`` ran)."""
    details = connection_details(protocol)
    transport = getattr(protocol, "transport", None)
    return (details is not None and "disconnected" in details) or not getattr(
        transport, "connected", True
    )


def debug_logging_off(protocol: Any) -> bool:
    """Whether autobahn's per-read debug line is discarded (txaio's no-op logger method)."""
    return getattr(getattr(protocol.log, "debug", None), "__name__", "") == "_no_op"


def plain_tcp(transport: Any) -> bool:
    """A Twisted TCP connection without TLS: the only kind bunws writes to directly."""
    return isinstance(transport, _TCP_TYPES) and not getattr(transport, "TLS", True)


def pause_reading(protocol: Any) -> bool:
    """Stop reading the connection under ``protocol``, so the peer's data waits in the kernel
    and TCP pushes back on it; False when there is no transport to pause.

    A Twisted transport is itself the push producer of what it reads (``ITCPTransport`` is an
    ``IPushProducer``): its ``pauseProducing`` removes it from the reactor's readers
    (``FileDescriptor.stopReading``), and a TLS wrapper hands the call to the TCP transport
    below. That is not bunws's ``_Producer``, which the transport pauses when its *write*
    buffer fills.
    """
    transport = getattr(protocol, "transport", None)
    pause = getattr(transport, "pauseProducing", None)
    if pause is None:
        return False
    pause()
    # A pong cannot be read while paused: autobahn must not take that for a dead peer and drop
    # the connection (daphne's --ping-timeout). Its keep-alive pings still go out; their pongs
    # wait in TCP with the rest. resume_reading restores the timeout.
    protocol.autoPingTimeout = 0
    pending = getattr(protocol, "autoPingTimeoutCall", None)
    if pending is not None:
        pending.cancel()
        protocol.autoPingTimeoutCall = None
    return True


def resume_reading(protocol: Any) -> None:
    """Read the connection again (Twisted ignores this once it is disconnecting)."""
    transport = getattr(protocol, "transport", None)
    resume = getattr(transport, "resumeProducing", None)
    if resume is not None:
        resume()
    # autobahn copied it from the factory, where daphne set it (--ping-timeout).
    protocol.autoPingTimeout = getattr(getattr(protocol, "factory", None), "autoPingTimeout", 0)


class _Producer:
    """A Twisted push producer: the transport pauses it when its write buffer fills."""

    def __init__(self, flow: FlowControl) -> None:
        self._flow = flow

    def pauseProducing(self) -> None:
        self._flow.pause_writing()

    def resumeProducing(self) -> None:
        self._flow.resume_writing()

    def stopProducing(self) -> None:
        """The connection is gone; the socket learns it from ``websocket.disconnect``."""


def register_producer(protocol: Any, flow: FlowControl) -> None:
    """Have the Twisted transport under ``protocol`` tell ``flow`` when its buffer fills."""
    from twisted.web.http import HTTPChannel  # daphne serves on Twisted

    transport = protocol.transport
    if transport is None:
        return
    current = getattr(transport, "producer", None)
    if current is not None and not isinstance(current, HTTPChannel):
        logger.debug("bunws: %r already has producer %r; no backpressure", transport, current)
        return
    if current is not None:
        # twisted.web's HTTPChannel registered itself when the connection opened and
        # daphne never unregisters it after the upgrade; left there, a full write buffer
        # pauses a request that no longer exists and bunws never learns of it.
        transport.unregisterProducer()
    transport.registerProducer(_Producer(flow), True)
