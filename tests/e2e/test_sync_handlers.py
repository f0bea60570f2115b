"""Handlers through a real daphne (issue 10, items 8, 18 and 19): ``ws.cork`` from a sync handler
that uses the ORM, and a Bun-style ``close(ws)`` announcing a leave."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import ConnectionClosed

from tests.support.clients import connect, expect_silence, recv
from tests.support.servers import Server

pytestmark = pytest.mark.timeout(30, func_only=True)


async def test_cork_from_a_sync_handler_can_use_the_orm_and_both_sends_arrive(
    server: Server,
) -> None:
    async with await connect(server, "t/hs/cork-sync/") as ws:
        await ws.send("go")
        try:
            replies = [await recv(ws) for _ in range(3)]
        except ConnectionClosed as closed:
            raise AssertionError(f"socket closed: {closed.rcvd}") from None
        assert replies[0].startswith("users=")  # type: ignore[union-attr]
        assert replies[1:] == ["same-thread=True", "result=corked"]


async def test_close_ws_handler_runs_and_only_endpoint_publish_announces_the_leave(
    server: Server,
) -> None:
    """In ``close`` the socket is closed, so ``ws.publish`` returns 0 and reaches nobody (as in
    Bun); ``ws.endpoint.publish`` (or ``bunws.publish``) reaches the others."""

    async with await connect(server, "t/hs/leave/leave-room/") as stays:
        await stays.send("bob")
        assert await recv(stays) == "hello bob"
        leaves = await connect(server, "t/hs/leave/leave-room/")
        await leaves.send("alice")
        assert await recv(leaves) == "hello alice"
        await leaves.close()
        assert json.loads(await recv(stays)) == {"left": "alice"}
        returned = json.loads(await recv(stays))
        assert returned["via_ws"] == 0
        assert returned["via_endpoint"] == len(json.dumps({"left": "alice"}))
        await expect_silence(stays, 0.1)
