"""Subprotocols (RFC 6455 1.9, 4.2.2) through a real daphne and the ``websockets`` client.

fetch selects one with ``server.upgrade(request, headers={"Sec-WebSocket-Protocol": ...})`` as
in Bun, or the endpoint's ``subprotocols=`` list selects the first the client offers, in the
server's order; ``ws.protocol`` is the selected one, ``""`` for none.
"""

from __future__ import annotations

import pytest
import websockets
from websockets.typing import Subprotocol

from tests.support.clients import connect, recv_json, run
from tests.support.servers import Server


async def negotiate(server: Server, path: str, offer: list[str]) -> tuple[str | None, str]:
    """What the client and the server's ``ws.protocol`` say was selected."""
    offered = [Subprotocol(name) for name in offer] or None
    async with await connect(server, path, subprotocols=offered) as ws:
        server_side = (await recv_json(ws))["protocol"]
        return ws.subprotocol, server_side


def test_upgrade_headers_select_an_offered_subprotocol(server: Server) -> None:
    selected = run(negotiate(server, "t/proto/pick/?pick=chat.v1", ["chat.v2", "chat.v1"]))
    assert selected == ("chat.v1", "chat.v1")


def test_selecting_a_subprotocol_the_client_did_not_offer_refuses_and_says_why(
    server: Server,
) -> None:
    with pytest.raises(websockets.InvalidStatus) as refusal:
        run(negotiate(server, "t/proto/pick/?pick=chat.v3", ["chat.v2", "chat.v1"]))
    assert refusal.value.response.status_code == 403
    log = server.log()
    assert "fetch of endpoint 't-pick' raised; handshake refused" in log
    assert (
        "selects subprotocol 'chat.v3', which the client did not offer (it offered "
        "'chat.v2', 'chat.v1')" in log
    )


def test_the_endpoint_list_selects_in_the_servers_order_of_preference(server: Server) -> None:
    selected = run(negotiate(server, "t/proto/auto/", ["chat.v1", "chat.v2"]))
    assert selected == ("chat.v2", "chat.v2")
    assert run(negotiate(server, "t/proto/auto/", ["other", "chat.v1"])) == ("chat.v1", "chat.v1")


def test_without_a_common_subprotocol_the_handshake_succeeds_without_one(server: Server) -> None:
    """RFC 6455 4.2.2: no Sec-WebSocket-Protocol in the response; the client decides (a
    browser fails the connection, ``websockets`` accepts it)."""
    assert run(negotiate(server, "t/proto/auto/", ["graphql-ws"])) == (None, "")
    assert run(negotiate(server, "t/proto/auto/", [])) == (None, "")


def test_fetchs_selection_wins_over_the_endpoint_list(server: Server) -> None:
    both = "t/proto/both/"
    assert run(negotiate(server, both + "?pick=chat.v1", ["chat.v2", "chat.v1"])) == (
        "chat.v1",
        "chat.v1",
    )
    assert run(negotiate(server, both, ["chat.v1", "chat.v2"])) == ("chat.v2", "chat.v2")
