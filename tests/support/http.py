"""Plain HTTP requests to a running daphne, and the failed-upgrade rows it wrote to its database."""

from __future__ import annotations

import sqlite3
import urllib.error
import urllib.request
from typing import Any

from tests.support.servers import Server
from tests.support.sqlite import sqlite_db


def http_get(server: Server, path: str, headers: dict[str, str] | None = None) -> Any:
    """GET ``path``; the response, or the ``HTTPError`` standing for it (status, headers, body)."""
    request = urllib.request.Request(server.url(path, "http"), headers=headers or {})
    try:
        return urllib.request.urlopen(request, timeout=5)
    except urllib.error.HTTPError as error:
        return error


def failed_upgrade_rows(server: Server, where: str, *params: Any) -> list[dict[str, Any]]:
    """The server's ``bunws_failedupgrade`` rows matching the SQL condition ``where``."""
    with sqlite_db(server.db_path) as db:
        db.row_factory = sqlite3.Row
        cursor = db.execute(f"SELECT * FROM bunws_failedupgrade WHERE {where}", params)
        return [dict(row) for row in cursor]
