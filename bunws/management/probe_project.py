"""What this project knows about a path that ``bunws_probe`` was refused on.

The probe runs inside the project, so instead of guessing it can match the path against the
declared routes (and name a near miss such as a missing trailing slash), ask the URLconf which
view a plain request reaches, and read the failed-upgrade row the server wrote for the attempt.
"""

from __future__ import annotations

import functools
import re
import time
from datetime import datetime
from typing import Any

from django.urls import Resolver404, resolve
from django.urls.resolvers import RoutePattern

from bunws.conf import get_config
from bunws.endpoint import Endpoint, endpoints

ROUTES_SHOWN = 8


@functools.lru_cache(maxsize=256)
def _pattern(route: str) -> RoutePattern:
    return RoutePattern(route, is_endpoint=True)


def serving_endpoint(path: str, *, prefixed: bool = True) -> tuple[Endpoint, str] | None:
    """The declared endpoint whose route matches ``path``, and the prefix it is then mounted
    under (``""`` at the root; ``"ws/"`` for ``path("ws/", URLRouter(websocket_urlpatterns()))``;
    ``prefixed=False`` tries the root only).
    """
    relative = path.lstrip("/")
    starts = [0]
    if prefixed:
        starts += [i + 1 for i, char in enumerate(relative[:-1]) if char == "/"]
    for start in starts:
        for endpoint in endpoints():
            if _pattern(endpoint.route).match(relative[start:]):
                return endpoint, relative[:start]
    return None


def near_miss(path: str) -> tuple[str, Endpoint] | None:
    """A path one slip away that a declared route serves: the trailing slash, a doubled slash."""
    toggled = path[:-1] if path.endswith("/") else path + "/"
    collapsed = re.sub("/{2,}", "/", path)
    for candidate in (toggled, collapsed, collapsed + "/"):
        found = serving_endpoint(candidate, prefixed=False) if candidate != path else None
        if found is not None:
            return candidate, found[0]
    return None


def route_verdict(path: str) -> str:
    """Which declared endpoint serves ``path``, or the near miss, or the routes there are."""
    found = serving_endpoint(path, prefixed=False)
    if found is not None:
        return f"{path} is endpoint {found[0].name!r} (route {found[0].route!r})"
    miss = near_miss(path)
    if miss is not None:
        return f"no endpoint matches {path}; did you mean {miss[0]} (endpoint {miss[1].name!r})?"
    found = serving_endpoint(path)
    if found is not None:
        endpoint, prefix = found
        return (
            f"{path} is endpoint {endpoint.name!r} (route {endpoint.route!r}) if the routes are "
            f"mounted under {prefix!r}, else no endpoint matches it"
        )
    routes = [repr(endpoint.route) for endpoint in endpoints()]
    if not routes:
        return f"no endpoint matches {path}: this project declares none (no sockets.py imported?)"
    more = ", ..." if len(routes) > ROUTES_SHOWN else ""
    return (
        f"no endpoint matches {path}; the declared routes are "
        f"{', '.join(routes[:ROUTES_SHOWN])}{more} (manage.py bunws_routes)"
    )


def logged_failure(path: str, since: datetime, client: str) -> tuple[Any, str]:
    """The newest failed-upgrade row for ``path`` last seen since ``since`` (this client's
    first), waiting out a deferred write; else None and why there is none."""
    from bunws.models import FailedUpgrade

    deadline = time.monotonic() + float(get_config().failed_upgrade_flush_interval) + 0.5
    while True:
        try:
            rows = list(
                FailedUpgrade.objects.filter(path=path, last_seen__gte=since).order_by(
                    "-last_seen"
                )[:10]
            )
        except Exception as exc:  # no table, another database: the probe still explains
            return None, f"could not read the failed-upgrade log: {type(exc).__name__}: {exc}"
        if rows:
            return ([row for row in rows if row.client_address == client] or rows)[0], ""
        if time.monotonic() >= deadline:
            return None, (
                "the failed-upgrade log in this project's database has no row for this path "
                "from the last few seconds (does the server use another database?)"
            )
        time.sleep(0.1)


def row_summary(row: Any) -> str:
    """How the server logged a failure: reason code and label, endpoint, status if stored."""
    where = f" at endpoint {row.endpoint!r}" if row.endpoint else ""
    status = getattr(row, "status", None)  # the column arrived in a later migration
    answered = f", answered {status}" if status else ""
    return f"{row.reason} ({row.get_reason_display()}){where}{answered}"


def http_endpoint(path: str) -> str | None:
    """The bunws endpoint this project's URLconf sends a plain request for ``path`` to, if any."""
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match.url_name if "bunws" in match.app_names else None
