"""Exceptions raised by bunws.

The hierarchy::

    BunwsError
    ├── ConfigurationError (also django's ImproperlyConfigured): a bad ``websocket`` mapping,
    │   │   route or setting, raised at startup
    │   └── UnsupportedFeature: a Bun feature daphne cannot provide (none of Bun 1.4's
    │       options today; kept so code that catches it keeps working)
    └── SocketStateError: an operation that needs an open socket on one that is not open

The pure core (``bunws.core``, which imports no Django) raises its own ``ValueError``
subclasses, ``bunws.core.options.MappingError`` and ``UnsupportedOption``; ``bunws.endpoint``
re-raises them as ``ConfigurationError`` and ``UnsupportedFeature`` with the same message.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


class BunwsError(Exception):
    """Root of every exception bunws raises on purpose."""


class ConfigurationError(BunwsError, ImproperlyConfigured):
    """A ``bunws.serve()`` call, ``websocket`` mapping or setting is wrong; raised at startup."""


class UnsupportedFeature(ConfigurationError):
    """A Bun WebSocket feature that cannot be built on daphne; the message says why."""


class SocketStateError(BunwsError):
    """An operation needs a socket in another ready state (for example upgrading twice)."""
