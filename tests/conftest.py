"""Shared fixtures: a real daphne serving the test settings for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import Server, daphne_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One daphne process for the whole session (tests use distinct rooms and paths)."""
    tmp = tmp_path_factory.mktemp("daphne")
    with daphne_server(tmp) as running:
        yield running
