"""An endpoint's ``allowed_origins`` holds under a URL prefix (a nested ``URLRouter``), through a
real daphne: the origin is decided for the endpoint that serves the socket, and ``OriginCheck``
still guards Channels consumers that are not bunws endpoints. (Under a ``root_path``, in
process: ``tests/inprocess/test_origin_root_path.py``.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.clients import connect, recv, refusal_status
from tests.support.http import failed_upgrade_rows
from tests.support.servers import Server, daphne_server

pytestmark = pytest.mark.timeout(30, func_only=True)

GOOD = "https://good.example"
EVIL = "http://evil.example"


@pytest.fixture(scope="module")
def prefixed(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """daphne serving ``tests/e2eapp/asgi_prefixed.py`` (bunws under ``ws/``) on the session
    server's database."""
    tmp = tmp_path_factory.mktemp("prefixed")
    with daphne_server(
        tmp, db_path=server.db_path, application="tests.e2eapp.asgi_prefixed:application"
    ) as running:
        yield running


async def echoes(server: Server, path: str, origin: str) -> bool:
    async with await connect(server, path, origin=origin) as ws:
        await ws.send("in")
        return await recv(ws) == "in"


# -- through daphne, bunws mounted under ws/ ---------------------------------------------------


async def test_endpoint_origins_refuse_other_sites_under_a_url_prefix(prefixed: Server) -> None:
    assert await refusal_status(prefixed, "ws/s/strict/", origin=EVIL) == 403
    [row] = failed_upgrade_rows(
        prefixed, "path = ? AND reason = ?", "/ws/s/strict/", "origin_not_allowed"
    )
    assert (row["endpoint"], row["origin"]) == ("s-strict", EVIL)
    assert await echoes(prefixed, "ws/s/strict/", GOOD)


async def test_endpoint_origins_refuse_even_the_own_host_under_a_url_prefix(
    prefixed: Server,
) -> None:
    """ALLOWED_HOSTS would admit the server's own host; the endpoint's list does not."""
    own_host = f"http://127.0.0.1:{prefixed.port}"
    assert await refusal_status(prefixed, "ws/s/strict/", origin=own_host) == 403


async def test_settings_origins_apply_under_a_url_prefix(prefixed: Server) -> None:
    assert await refusal_status(prefixed, "ws/t/echo/", origin=GOOD) == 403
    assert await echoes(prefixed, "ws/t/echo/", f"http://127.0.0.1:{prefixed.port}")


async def test_a_channels_consumer_beside_bunws_keeps_the_settings_origin_check(
    prefixed: Server,
) -> None:
    """good.example passes an endpoint's own list, not the settings: a plain consumer refuses it."""
    assert await refusal_status(prefixed, "plain/", origin=GOOD) == 403
    assert await refusal_status(prefixed, "plain/", origin=EVIL) == 403
    [row] = failed_upgrade_rows(
        prefixed, "path = ? AND reason = ?", "/plain/", "origin_not_allowed"
    )
    assert row["origin"] == GOOD
    assert await echoes(prefixed, "plain/", f"http://127.0.0.1:{prefixed.port}")
