"""The daphne stack seen whole, not per connection: the 426 reason phrase Twisted lacks (set at
startup) and whether autobahn runs its NVX accelerators (read by the ``bunws.W004`` check)."""

from __future__ import annotations


def name_status_426() -> None:
    """Teach Twisted (daphne's HTTP layer) the phrase for 426; it would send "Unknown Status".

    ASGI responses carry no reason phrase, so daphne's status line comes from Twisted's table,
    which lacks RFC 7231's 426. Adding the entry changes nothing else.
    """
    try:
        from twisted.web import http
    except ImportError:  # not served by daphne
        return
    http.RESPONSES.setdefault(426, b"Upgrade Required")


def autobahn_nvx() -> tuple[bool, bool]:
    """``(in use, built)`` for autobahn's NVX accelerators (frame unmasking, UTF-8 checks)."""
    import autobahn.websocket

    return (
        bool(getattr(autobahn.websocket, "USES_NVX", True)),
        bool(getattr(autobahn.websocket, "HAS_NVX", False)),
    )
