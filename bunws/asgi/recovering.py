"""``RecoveringWebSocket``: the socket of a ``bunws.v1`` client on an endpoint with ``recovery=``.

It writes the protocol's envelopes (``bunws.core.envelope``), records its topics, keeps its
session in the store whenever subscriptions, presence or ``ws.data`` change, and on a resume
restores the session and replays what the client missed before ``open`` runs (docs/recovery.md).
Plain sockets are ``ThreadSafeWebSocket`` and pay none of this.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bunws.asgi.resume import GAP, SCOPE_KEY
from bunws.asgi.session import record_of, restore, spawn
from bunws.asgi.threads import ThreadSafeWebSocket, _handed_off
from bunws.cluster import presence as cluster_presence
from bunws.cluster import recovery
from bunws.cluster.recovery_sessions import Record
from bunws.cluster.recovery_setup import refresh_every
from bunws.core.close import OPEN
from bunws.core.envelope import SUBPROTOCOL, StampedFrame, control, direct, new_session_id
from bunws.core.frame import Frame
from bunws.core.outgoing import Outgoing
from bunws.core.socket import ServerWebSocket

logger = logging.getLogger("bunws")

#: Seconds the server waits for the ``resume`` message after a resume handshake.
RESUME_WAIT = 10.0


def socket_class(endpoint: Any, subprotocol: str | None) -> type[ThreadSafeWebSocket]:
    """The socket class for a connection: recovering only for ``bunws.v1`` on a recovery
    endpoint."""
    if subprotocol == SUBPROTOCOL and endpoint.recovery is not None:
        return RecoveringWebSocket
    return ThreadSafeWebSocket


class RecoveringWebSocket(ThreadSafeWebSocket):
    """A socket whose session survives a reconnection."""

    __slots__ = (
        "_data",
        "_ended",
        "_positions",
        "_replaying",
        "_saved",
        "_service",
        "_starts",
        "client_id",
        "gaps",
        "recovered",
        "session",
    )

    def __init__(self, **kwargs: Any) -> None:
        self._data: Any = None
        self.session: str | None = None
        super().__init__(**kwargs)
        self._service = recovery.service()
        self._positions: dict[str, int | None] = {}
        self._starts: dict[str, int | None] = {}
        self._replaying: dict[str, list[StampedFrame]] = {}
        self._saved = self._ended = False
        self.recovered = False
        self.gaps: tuple[str, ...] = ()
        #: Stable across the client's sessions: its publishes are not replayed to it.
        self.client_id = ""
        if self.endpoint.recovery.presence:
            from bunws.asgi import presence as presence_handler

            cluster_presence.set_dispatcher(presence_handler.dispatch)

    @property
    def data(self) -> Any:
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        self._data = value
        if self.session is None:
            return
        if threading.get_ident() == self._thread:
            self._service.sessions.dirty(self)
        else:  # assigned in a sync handler's thread
            self._loop.call_soon_threadsafe(self._service.sessions.dirty, self)

    # -- writing ----------------------------------------------------------------------------

    def _send(self, data: str | bytes | bytearray | memoryview, compress: bool = False) -> int:
        if self.ready_state != OPEN:
            return 0
        return Outgoing.deliver(self, Frame(direct(data), compress))

    send = _handed_off(_send)

    def _notify(self, kind: str, **fields: Any) -> None:
        if self.ready_state == OPEN:
            Outgoing.deliver(self, Frame(control(kind, **fields)))

    def deliver(self, frame: Frame) -> int:
        """A published message from the hub: its envelope, once, in offset order."""
        if type(frame) is not StampedFrame:  # not recorded: no topic known (never expected)
            return Outgoing.deliver(self, Frame(direct(frame.data), frame.compress))
        n = frame.offset
        if n is not None:
            topic = frame.topic
            last = self._positions.get(topic)
            if last is not None and n <= last:
                return 0  # replayed already, or before this socket's start
            if self._replaying:
                buffered = self._replaying.get(topic)
                if buffered is not None:
                    buffered.append(frame)
                    return frame.size
            self._positions[topic] = n
        return Outgoing.deliver(self, frame.enveloped())

    # -- topics and presence: saved in the session when they change -----------------------

    def _subscribe(self, topic: str) -> None:
        new = topic not in self.subscriptions_set
        ServerWebSocket.subscribe(self, topic)
        if new and topic in self.subscriptions_set:
            self._watch(topic)

    def _watch(self, topic: str, after: int | None = None) -> asyncio.Future[int]:
        ready = self._service.watch(self, topic)
        if after is None and ready.done():
            after = self._service.position(topic)
            if after is None:
                after = ready.result()
        self._positions[topic] = self._starts[topic] = after
        if after is not None:
            self._notify("sub", topic=topic, offset=after)
        else:
            ready.add_done_callback(lambda done: self._started(topic, done.result()))
        if self.session is not None:
            self._service.sessions.dirty(self)
            self._send_presence(topic)
        return ready

    def _started(self, topic: str, last: int) -> None:
        if topic in self._starts and self._starts[topic] is None:
            self._starts[topic] = last
            if self._positions.get(topic) is None:
                self._positions[topic] = last
            self._notify("sub", topic=topic, offset=last)
            self._service.sessions.dirty(self)

    def _unsubscribe(self, topic: str) -> None:
        was = topic in self.subscriptions_set
        ServerWebSocket.unsubscribe(self, topic)
        if was:
            self._positions.pop(topic, None)
            self._starts.pop(topic, None)
            self._service.unwatch(self, topic)
            self._notify("unsub", topic=topic)
            self._service.sessions.dirty(self)

    subscribe = _handed_off(_subscribe)
    unsubscribe = _handed_off(_unsubscribe)

    def _changed(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            result = method(self, *args, **kwargs)
            if self.session is not None:
                self._service.sessions.dirty(self)
            return result

        return call

    def _track(self, topic: str, key: str, meta: Mapping[str, Any] | None = None) -> str:
        return self._changed(ServerWebSocket.track)(topic, key, meta)  # type: ignore[no-any-return]

    def _untrack(self, topic: str) -> bool:
        return self._changed(ServerWebSocket.untrack)(topic)  # type: ignore[no-any-return]

    def _update(self, topic: str, meta: Mapping[str, Any] | None = None) -> bool:
        return self._changed(ServerWebSocket.update_presence)(topic, meta)  # type: ignore[no-any-return]

    track = _handed_off(_track)
    untrack = _handed_off(_untrack)
    update_presence = _handed_off(_update)

    def _save_session(self) -> None:
        if self.session is not None:
            self._service.sessions.dirty(self)

    #: Save the session now (after changing ``ws.data`` in place).
    save_session = _handed_off(_save_session)

    def _send_presence(self, topic: str) -> None:
        if self.endpoint.recovery.presence and self.ready_state == OPEN:
            spawn(self._presence_state(topic))

    async def _presence_state(self, topic: str) -> None:
        from bunws.cluster.presence_lists import apresence

        state = await apresence(topic)
        if topic in self.subscriptions_set:
            self._notify("presence_state", topic=topic, state=state)

    def relay_presence(self, topic: str, diff: dict[str, Any]) -> None:
        """A presence diff of a subscribed topic (called by ``bunws.asgi.presence``)."""
        if self.endpoint.recovery.presence and topic in self.subscriptions_set:
            self._notify("presence_diff", topic=topic, diff=diff)

    def session_record(self, ttl: int | None = None) -> Record | None:
        """``(session, json, ttl, exists)`` for the store; None when it cannot be saved (or
        the socket closed: its last record was written then, presence included)."""
        if self._ended and ttl is None:
            return None
        return record_of(self, ttl)

    def _drop_subscriptions(self) -> None:
        if not self._ended and self.session is not None:
            self._ended = True
            ours = self.closed_by_server()
            code = ours[0] if ours is not None else self._transport.remote_close()[0]
            for topic in self.subscriptions_set:
                self._service.unwatch(self, topic)
            if code == 1000:  # a normal closure from either side ends the session
                self._service.sessions.end(self.session, None)
            else:
                record = self.session_record(self.endpoint.recovery.window)
                self._service.sessions.live.pop(self.session, None)
                if record is not None:
                    self._service.sessions.save(record)
        super()._drop_subscriptions()

    # -- the start of a connection ----------------------------------------------------------

    async def start(self, next_message: Callable[[], Awaitable[Any]]) -> None:
        """Before ``open``: resume (wait for the ``resume`` message, restore, replay) or
        begin a new session; then ``gap`` if anything is lost, and ``welcome``."""

        verdict = self.scope.get(SCOPE_KEY)
        if isinstance(verdict, dict) and verdict.get("refused"):
            self.close(4403, "session refused: its user is no longer logged in; connect anew")
            return
        offsets: dict[str, int] = {}
        if verdict is not None:
            try:
                message = await asyncio.wait_for(next_message(), RESUME_WAIT)
                body = json.loads(message) if isinstance(message, str) else None
                if not isinstance(body, dict) or body.get("type") != "resume":
                    raise ValueError("not a resume message")
                offsets = {str(t): int(n) for t, n in (body.get("offsets") or {}).items()}
            except (TimeoutError, ValueError, TypeError, AttributeError):
                self.close(4400, "expected the resume message first (docs/recovery.md)")
                return
        replayed, reason = 0, None
        self.session = new_session_id()
        if isinstance(verdict, dict):
            self.client_id = str(verdict.get("client") or self.session)
            replayed, gaps = await restore(self, verdict, offsets)
            self.recovered, self.gaps = True, tuple(gaps)
            reason = "trimmed" if gaps else None
        elif verdict == GAP:
            self.gaps, reason = tuple(offsets), "expired"
        self.client_id = self.client_id or self.session
        config = self.endpoint.recovery
        self._service.sessions.live[self.session] = config.window + 2 * int(refresh_every())
        record = self.session_record()
        if record is not None:  # written before the client learns the id, so it can resume
            await self._service.sessions.write_now(record)
        for topic in self.subscriptions_set:
            self._send_presence(topic)
        if reason is not None:
            self._notify("gap", reason=reason, topics=list(self.gaps))
        offsets_now = {t: n for t, n in self._positions.items() if n is not None}
        self._notify(
            "welcome",
            session=self.session,
            recovered=self.recovered,
            offsets=offsets_now,
            replayed=replayed,
            window=config.window,
        )
