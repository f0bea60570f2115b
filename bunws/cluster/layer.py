"""What every process of a cluster agrees on: this process's id, the topic's group name, the
layer message format, and which channel layer bunws uses.

``layer_settings()`` is the one reader of the channel-layer configuration (the ``channel_layer``
alias in ``BUNWS`` and its ``CHANNEL_LAYERS`` entry); the bridge, the counts, the publishing
command and the system check all go through it.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

#: This process, as the ``o`` field of the layer messages it sends.
PROCESS_ID = uuid.uuid4().hex
GROUP_PREFIX = "bunws.t."
MESSAGE_TYPE = "bunws.publish"
#: A presence diff: ``{"type", "o": process id, "t": topic, "l": leaves, "j": joins}``.
PRESENCE_TYPE = "bunws.presence"
#: Longest wait, in seconds, for one send to the layer.
SEND_TIMEOUT = 5.0


def group_name(topic: str) -> str:
    """The Channels group for ``topic``: ASCII, 72 characters, distinct for distinct topics.

    Group names allow only ASCII letters, digits, ``-_.`` and fewer than 100 characters, so the
    topic is hashed (SHA-256 of its UTF-8 bytes; lone surrogates kept) and the real topic rides
    in the message.
    """
    digest = hashlib.sha256(topic.encode("utf-8", "surrogatepass")).hexdigest()
    return GROUP_PREFIX + digest


def publish_message(topic: str, items: list[str | bytes], compress: bool = False) -> dict[str, Any]:
    """The layer message for consecutive publishes of ``items`` to ``topic``; ``z`` marks
    publishes made with ``compress=True`` (absent otherwise, as before it existed)."""
    message: dict[str, Any] = {"type": MESSAGE_TYPE, "o": PROCESS_ID, "t": topic, "m": items}
    if compress:
        message["z"] = True
    return message


@dataclass(frozen=True)
class LayerSettings:
    """The channel layer bunws uses: its alias and its ``CHANNEL_LAYERS`` entry (None if absent)."""

    alias: str
    entry: dict[str, Any] | None

    @property
    def backend(self) -> str | None:
        """The dotted ``BACKEND`` class, None when the entry or its ``BACKEND`` is missing."""
        return None if self.entry is None else self.entry.get("BACKEND")

    @property
    def config(self) -> dict[str, Any]:
        """The entry's ``CONFIG`` (empty when absent)."""
        return (self.entry or {}).get("CONFIG", {}) or {}


def layer_settings() -> LayerSettings:
    """Read which channel layer bunws uses, from ``BUNWS`` and ``CHANNEL_LAYERS``."""
    from django.conf import settings

    from bunws.conf import get_config

    alias = get_config().channel_layer
    return LayerSettings(alias, (getattr(settings, "CHANNEL_LAYERS", None) or {}).get(alias))


def cross_process_layer() -> Any:
    """The channel layer that reaches other processes, or None (none configured, in-memory)."""
    from channels.layers import InMemoryChannelLayer, get_channel_layer

    layer = get_channel_layer(layer_settings().alias)
    if layer is None or isinstance(layer, InMemoryChannelLayer):
        return None
    return layer


def layer_description() -> str:
    """``alias (dotted.Class)`` of the configured layer, for messages."""
    found = layer_settings()
    return f"{found.alias!r} ({found.backend or 'none'})"
