"""Test clients for your own tests: talk to bunws endpoints in-process, without daphne.

``SocketClient`` (sync, for ``TestCase`` and plain pytest-django tests) and ``AsyncSocketClient``
(for ``async def`` tests) wrap Channels' ``WebsocketCommunicator`` around the project's ASGI
application (``ASGI_APPLICATION``), so ``fetch``, ``ws.data``, the origin check and
``AuthMiddlewareStack`` run as they do under daphne::

    with SocketClient("chat/lobby/", user=alice) as ws:
        ws.send("hi")
        assert ws.receive() == "alice: hi"

Every receive has a timeout (``timeout=``, default 1 s) and fails the test with a message.
``observe(topic)`` records what is published to a topic. See docs/testing.md. The async client
is in ``client``, the sync one and its shared loop thread in ``sync``, ``observe`` in ``observe``.
"""

from __future__ import annotations

from bunws.testing.client import (
    AsyncSocketClient,
    HandshakeRefused,
    SocketClosed,
    bunws_application,
)
from bunws.testing.observe import Published, observe
from bunws.testing.sync import SocketClient

__all__ = [
    "AsyncSocketClient",
    "HandshakeRefused",
    "Published",
    "SocketClient",
    "SocketClosed",
    "bunws_application",
    "observe",
]
