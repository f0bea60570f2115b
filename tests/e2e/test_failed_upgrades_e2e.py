"""Failed upgrades through a real daphne: the 426 bodies, fetch's own answers, deleted rows."""

from __future__ import annotations

import json

from tests.support.http import failed_upgrade_rows, http_get
from tests.support.servers import Server
from tests.support.sqlite import sqlite_db


def test_plain_get_answered_by_fetch_is_logged_as_fetch_answered_with_its_status(
    server: Server,
) -> None:
    response = http_get(server, "t/members/answered/")
    assert response.status == 403
    assert response.read() == b"members only"
    [row] = failed_upgrade_rows(server, "path = ?", "/t/members/answered/")
    assert (row["reason"], row["status"]) == ("fetch_answered", 403)
    assert "403" in row["diagnosis"]
    assert "reason=fetch_answered status=403" in server.log()


def test_a_page_that_fetch_serves_is_not_a_failed_upgrade(server: Server) -> None:
    """A fetch that answers a plain request with a page (status below 400) did its job."""
    response = http_get(server, "t/page/?visit=1")
    assert (response.status, response.read()) == (200, b"the lobby page")
    assert failed_upgrade_rows(server, "path = ?", "/t/page/") == []
    assert "path=/t/page/" not in server.log()


def test_plain_get_to_an_endpoint_without_fetch_is_no_upgrade_header_with_status_426(
    server: Server,
) -> None:
    assert http_get(server, "t/room/no-fetch-status/").status == 426
    [row] = failed_upgrade_rows(server, "path = ?", "/t/room/no-fetch-status/")
    assert (row["reason"], row["status"]) == ("no_upgrade_header", 426)


def test_426_text_and_json_bodies_give_the_websocket_url(server: Server) -> None:
    url = f"ws://127.0.0.1:{server.port}/t/room/where/"
    text = http_get(server, "t/room/where/?q=1").read().decode()
    assert url in text
    assert text.count("WebSocket endpoint") <= 1, text
    body = json.loads(http_get(server, "t/room/where/", {"Accept": "application/json"}).read())
    assert body["url"] == url


def test_plain_get_after_its_row_was_deleted_is_recorded_again(server: Server) -> None:
    assert http_get(server, "t/room/deleted-row/").status == 426
    with sqlite_db(server.db_path) as db:
        db.execute("DELETE FROM bunws_failedupgrade WHERE path = ?", ("/t/room/deleted-row/",))
    assert http_get(server, "t/room/deleted-row/").status == 426
    [row] = failed_upgrade_rows(server, "path = ?", "/t/room/deleted-row/")
    assert row["count"] == 1
