"""Refusing a handshake on daphne with fetch's own HTTP response instead of daphne's 403.

daphne's only refusal is ``serverReject()``: a ``ConnectionDeny(403)`` that autobahn answers
with ``failHandshake`` -> ``sendHttpErrorResponse``, a status line and no body. bunws keeps
that path, so daphne's bookkeeping is untouched (the handshake deferred fired and dropped, the
connection marked disconnected in ``Server.connections``, the ``WSREJECT`` access-log line,
autobahn dropping the connection after the write), and replaces on this one connection the
method that writes the response, so the client gets the whole response fetch returned.
``tests/e2e/test_handshake_answers.py`` pins the autobahn and daphne names used here.
"""

from __future__ import annotations

from typing import Any

from bunws.core.denial import Denial, http_response
from bunws.daphne.connection import gone


def deny(protocol: Any, denial: Denial) -> bool:
    """Answer the pending handshake on ``protocol`` with ``denial`` and close the connection;
    False when there is no handshake left to answer (daphne timed it out, the client left)."""
    if getattr(protocol, "handshake_deferred", None) is None or gone(protocol):
        return False
    data = http_response(denial)

    def send_response(code: int, reason: str, headers: Any = None) -> None:
        protocol.sendData(data)

    protocol.sendHttpErrorResponse = send_response  # this connection only
    protocol.serverReject()  # autobahn writes (our response) and drops; daphne logs WSREJECT
    return True
