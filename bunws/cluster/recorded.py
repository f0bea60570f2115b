"""Which topics this process records for recovery, read on the publish path in one lookup.

``topics`` is empty unless an endpoint declares ``recovery=``, so other publishes pay one
falsy check; ``hooks`` are set by ``bunws.cluster.recovery`` (which imports the publishing side,
so the publishing side reaches it through here instead of importing it).
"""

from __future__ import annotations

from typing import Any

#: The recorded topics this process knows (its own watchers' and those read from the store).
topics: dict[str, None] = {}
#: ``publish(topic, frame, skip) -> int``, ``receive(layer message) -> bool`` (handled),
#: ``outside(topic, frame) -> offset | None`` (a process without sockets), ``start()`` (the
#: socket loop is bound: start recording there).
hooks: dict[str, Any] = {"publish": None, "receive": None, "outside": None, "start": None}
