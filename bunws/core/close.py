"""Ready states and close codes: what RFC 6455 lets a server put in a close frame."""

from __future__ import annotations

__all__ = ["CLOSED", "CLOSING", "CONNECTING", "OPEN", "check_close_code"]

CONNECTING, OPEN, CLOSING, CLOSED = 0, 1, 2, 3

# RFC 6455 7.4.1 and IANA: codes an endpoint may put in a close frame.
_SENDABLE_CODES = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}


def check_close_code(code: int) -> int:
    """Return ``code`` if a server may send it in a close frame, else raise ValueError."""
    if isinstance(code, bool) or not isinstance(code, int):
        raise TypeError(f"close code must be an int, got {type(code).__name__} {code!r}.")
    if code in _SENDABLE_CODES or 3000 <= code <= 4999:
        return code
    raise ValueError(
        f"close code {code} cannot be sent in a close frame (RFC 6455 7.4): use 1000 for a "
        f"normal close, 1001-1014 for protocol reasons or 3000-4999 for your own codes."
    )
