"""The ASGI application behind each endpoint: handshake, fetch, then the handler loop.

A plain ASGI app under Channels' ``URLRouter`` (not ``AsyncWebsocketConsumer``): per message it
awaits the server's queue and calls the handler, with no task, thread hop or channel-layer
listener per socket.
"""

from __future__ import annotations

import inspect
import logging
import time
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async

from bunws.asgi import presence as presence_handler
from bunws.asgi import recovering, resume, telemetry
from bunws.asgi.denial import denial_from, send_denial
from bunws.asgi.origin import claim, endpoint_allows
from bunws.asgi.refusal import TOO_MANY_SOCKETS, record_refusal, refused
from bunws.asgi.request import handshake_request
from bunws.asgi.transport import AsgiTransport
from bunws.cluster import presence
from bunws.cluster import publish as pubsub
from bunws.conf import get_config
from bunws.core.close import OPEN
from bunws.core.diagnosis import FETCH_DECLINED, ORIGIN_NOT_ALLOWED
from bunws.core.handshake import choose_subprotocol, offered_subprotocols
from bunws.core.hub import hub
from bunws.core.limits import ClientSlot, RateWindow, client_sockets, close_for_rate, idle_sweeper
from bunws.core.redact import scope_client
from bunws.core.socket import ServerWebSocket
from bunws.core.transport import Disconnected, Event, Transport
from bunws.daphne import drain, shutdown
from bunws.daphne.transport import daphne_transport

if TYPE_CHECKING:
    from bunws.endpoint import Endpoint, Handshake

logger = logging.getLogger("bunws")

Scope = dict[str, Any]

_drain_tasks: set[Any] = set()


class EndpointApp:
    """ASGI app serving one ``Endpoint``'s WebSocket side."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.stats = telemetry.for_endpoint(endpoint.name)

    def __repr__(self) -> str:
        return f"<EndpointApp {self.endpoint.name!r}>"

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            raise ValueError(
                f"bunws endpoint {self.endpoint.name!r} got a {scope['type']!r} scope; its HTTP "
                f"side is served by Django: add path('', include('bunws.urls')) to your URLconf."
            )
        decision = claim(scope, self.endpoint.name)  # before the receive OriginCheck guards
        first = await receive()
        if first["type"] != "websocket.connect":
            return
        if not endpoint_allows(scope, decision, self.endpoint.allowed_origins):
            await record_refusal(scope, ORIGIN_NOT_ALLOWED, self.endpoint.name)
            await send({"type": "websocket.close", "code": 1000})
            return
        pubsub.bind_loop()
        shutdown.install()
        if drain.refused(scope, send):  # SIGTERM: draining for a restart (503, Retry-After)
            return
        config = get_config()
        per_client = config.max_sockets_per_client
        address = scope_client(scope) or ""
        if per_client and not client_sockets.acquire(address, per_client):
            logger.warning(
                "bunws: %s: refused a handshake from %s, which already has %d open sockets "
                "(BUNWS['MAX_SOCKETS_PER_CLIENT'] = %d)",
                self.endpoint.name,
                address or "an unknown address",
                client_sockets.count(address),
                per_client,
            )
            await refused(scope, TOO_MANY_SOCKETS, self.endpoint.name)
            await send({"type": "websocket.close", "code": 1008})
            return
        slot = ClientSlot(address if per_client else None)
        serve = None
        try:
            serve = await self._connect(scope, receive, send)
        finally:
            if serve is None:
                slot.release()
        if serve is None:
            return
        ws, transport = serve
        run = self._serve(ws, transport, receive, config.max_messages_per_second, slot)
        # On daphne the socket's loop takes over from this ASGI call, which returns, so the
        # middleware stack's frames and scope copies are freed for as long as the socket lives.
        try:
            task = transport.run_detached(run)
        except BaseException:
            run.close()
            slot.release()
            raise
        if task is None:
            await run
        else:
            # Cancelled before its first step (daphne's shutdown), _serve's finally never runs.
            task.add_done_callback(lambda _: slot.release())

    async def _connect(
        self, scope: Scope, receive: Any, send: Any
    ) -> tuple[ServerWebSocket, Transport] | None:
        """Run ``fetch`` and accept; the socket and its transport, or None when refused."""
        started = time.monotonic()
        state, answer = await resume.handshake(self.endpoint, scope, self._run_fetch)
        if state is None or not state.upgraded:
            # fetch's own response (a 401, a 429) where it has one and the server can send it.
            denial = await denial_from(answer, self.endpoint.name, scope, send)
            status = None if denial is None else denial.status
            await record_refusal(scope, FETCH_DECLINED, self.endpoint.name, status)
            await send_denial(scope, send, denial)
            return None
        subprotocol = state.subprotocol
        if subprotocol is None and self.endpoint.subprotocols:
            subprotocol = choose_subprotocol(
                self.endpoint.subprotocols, offered_subprotocols(scope)
            )
        limit, deflate = self.endpoint.config.max_payload_length, self.endpoint.config.deflate
        transport: Transport = daphne_transport(scope, send, limit, deflate) or AsgiTransport(
            send, deflate
        )
        try:
            await transport.accept(state.headers, subprotocol)
        except ConnectionError:
            logger.info("bunws: %s: client left during the handshake", self.endpoint.name)
            return None
        ws = recovering.socket_class(self.endpoint, subprotocol)(
            transport=transport,
            config=self.endpoint.config,
            hub=hub,
            data=state.data,
            scope=scope,
            endpoint=self.endpoint,
            on_drain=self._on_drain if "drain" in self.endpoint.handlers else None,
            publish=pubsub.publish_frame,
            protocol=subprotocol or "",
            presence=presence.tracker,
            stats=self.stats,
        )
        await telemetry.opened(self.stats, ws, started)
        if "presence" in self.endpoint.handlers:
            presence_handler.register(self)
        return ws, transport

    async def _run_fetch(self, scope: Scope) -> tuple[Handshake | None, Any]:
        """What fetch decided, and what it returned (Bun ignores that once it upgraded)."""
        endpoint = self.endpoint
        if endpoint.fetch is None:
            from bunws.endpoint import Handshake

            return Handshake(is_handshake=True, upgraded=True, data={}), None
        try:
            request = await sync_to_async(handshake_request)(scope, endpoint)
            fetch = endpoint.fetch
            if inspect.iscoroutinefunction(fetch):
                answer = await fetch(request, endpoint)
            else:
                answer = await sync_to_async(fetch)(request, endpoint)
        except Exception:
            logger.exception("bunws: fetch of endpoint %r raised; handshake refused", endpoint.name)
            return None, None
        state: Handshake = request.bunws  # type: ignore[attr-defined]
        return state, answer

    def _on_drain(self, ws: ServerWebSocket) -> None:
        import asyncio

        handler = self.endpoint.handlers["drain"]
        task = asyncio.get_running_loop().create_task(self._call(ws, "drain", handler, ws))
        # Keep a reference: the loop holds tasks only weakly until they finish.
        _drain_tasks.add(task)
        task.add_done_callback(_drain_tasks.discard)

    async def _call(self, ws: ServerWebSocket, key: str, handler: Any, *args: Any) -> bool:
        try:
            await handler(*args)
            return True
        except Exception as exc:
            logger.exception(
                "bunws: %s handler of endpoint %r raised; closing the socket with 1011",
                key,
                self.endpoint.name,
            )
            error = self.endpoint.handlers.get("error")
            if error is not None and key != "error":
                try:
                    await error(ws, exc)
                except Exception:
                    logger.exception("bunws: error handler of %r raised", self.endpoint.name)
            if ws.ready_state == OPEN:
                ws.close(1011, "internal error")
            return False

    async def _serve(
        self,
        ws: ServerWebSocket,
        transport: Transport,
        receive: Any,
        rate: int,
        slot: ClientSlot,
    ) -> None:
        endpoint = self.endpoint
        handlers = endpoint.handlers
        on_message = handlers.get("message")
        limit = endpoint.config.max_payload_length
        window = RateWindow(rate, time.monotonic()) if rate else None
        sweeper = idle_sweeper() if endpoint.config.idle_timeout else None
        code: int | None = 1006
        stats = self.stats
        try:
            endpoint.sockets[ws] = transport
            if sweeper is not None:
                sweeper.track(ws)
            next_message = transport.receiver(receive)
            if "ping" in handlers or "pong" in handlers:
                transport.receive_control("ping" in handlers, "pong" in handlers)
            if isinstance(ws, recovering.RecoveringWebSocket):
                await ws.start(next_message)  # a bunws.v1 session: resume, replay, welcome
            if "open" in handlers and ws.ready_state == OPEN:
                await self._call(ws, "open", handlers["open"], ws)
            while True:
                payload = await next_message()
                if isinstance(payload, Event):  # one check on the message path for both
                    if isinstance(payload, Disconnected):
                        code = payload.code
                        break
                    if ws.ready_state == OPEN:  # a ping or pong; after close() dropped, as Bun
                        key = "ping" if payload.is_ping else "pong"
                        await self._call(ws, key, handlers[key], ws, payload.data)
                    continue
                if ws.ready_state != OPEN:
                    continue  # closing: Bun drops messages that arrive after close()
                ws.last_received = now = time.monotonic()
                size = len(payload)
                if isinstance(payload, str) and not payload.isascii():  # its UTF-8 bytes
                    size = len(payload.encode("utf-8"))
                stats.messages_received += 1
                stats.bytes_received += size
                if limit and size > limit:
                    # RFC 6455 7.4.1: 1009 = message too big to process.
                    ws.close(1009, f"message of {size} bytes exceeds {limit}")
                    continue
                if window is not None and window.over(now):
                    close_for_rate(ws, endpoint.name, rate)
                    continue
                if on_message is not None:
                    await self._call(ws, "message", on_message, ws, payload)
        finally:
            ws.mark_closed()
            endpoint.sockets.pop(ws, None)
            if sweeper is not None:
                sweeper.untrack(ws)
            slot.release()
            await self._finish(ws, transport, code)

    async def _finish(self, ws: ServerWebSocket, transport: Transport, code: int | None) -> None:
        ours = ws.closed_by_server()
        reason = ""
        if ours is not None:
            code, reason = ours
        else:
            remote_code, remote_reason = transport.remote_close()
            if code != 1006 and remote_code is not None:
                code = remote_code
            reason = remote_reason or ""
        if code is None:
            code = 1005  # RFC 6455 7.1.5: the peer sent no status code
        await transport.aclose()
        handler = self.endpoint.handlers.get("close")
        if handler is not None:
            await self._call(ws, "close", handler, ws, code, reason)
        await telemetry.closed(self.stats, ws, code, reason)  # after close, as signals.py says
