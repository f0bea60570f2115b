"""Cross-process delivery of publishes through the Channels layer (filled in by the scale-out work).

With the in-memory layer (the default) there are no other processes to reach, so no bridge
is started and publishes stay local.
"""

from __future__ import annotations

from typing import Any


def start_bridge() -> Any:
    """Start the bridge for this process's socket loop; None when the layer is process-local."""
    return None


def get_bridge_for_publishing() -> Any:
    """A bridge usable from a process without sockets; None when the layer is process-local."""
    return None


def cluster_subscriber_count(topic: str) -> int:
    """Subscribers of ``topic`` this process knows of (local only for a process-local layer)."""
    from bunws.hub import hub

    return hub.count(topic)
