"""A running server's SQLite database, opened from a test."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def sqlite_db(path: Path, **kwargs: Any) -> Iterator[sqlite3.Connection]:
    """``sqlite3.connect(path)`` for one block: committed at its end, then closed.

    ``with sqlite3.connect(...)`` only commits; the connection is left to the garbage collector,
    which Python 3.13 reports as a ``ResourceWarning`` (an error under the suite's filters).
    """
    db = sqlite3.connect(path, **{"timeout": 10, **kwargs})
    try:
        with db:
            yield db
    finally:
        db.close()
