"""Why ``bunws_probe`` got what it got: a handshake refused, or a plain request not answered 426.

Each explanation prints its numbered steps through ``say`` and returns (or raises as
``ProbeFailed``) the verdict, from the failed-upgrade row the server wrote where there is one,
else from the declared routes and the status alone (``bunws.management.probe_project``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bunws.management.probe_project import (
    http_endpoint,
    logged_failure,
    route_verdict,
    row_summary,
    serving_endpoint,
)
from bunws.management.probe_wire import ProbeFailed

Say = Callable[[str], None]

#: Why a handshake gets a status other than 101, for the people reading the probe's output.
STATUS_HELP = {
    400: "The WebSocket server (autobahn, inside daphne) rejected the handshake itself: a bad "
    "Sec-WebSocket-Key, a Sec-WebSocket-Version other than 13 or a malformed header. bunws never "
    "sees such a request, so it is not in the failed-upgrade log; fix the client.",
    403: "The application refused the handshake. Look in the admin under 'Failed upgrade "
    "attempts' or in the 'bunws' log lines of the server.",
    404: "Nothing serves this path. For a bunws endpoint check the route (`manage.py "
    "bunws_routes`); if the server is plain Django (WSGI), WebSockets never reach Channels.",
    426: "The request reached bunws's HTTP side as plain HTTP: the Upgrade/Connection headers "
    "were lost on the way (a proxy that does not forward them) or the client did not send them.",
    502: "A proxy could not reach the application server; check that daphne is running.",
    504: "A proxy timed out waiting for the application server.",
}


def _sentence(text: str) -> str:
    return text if text.endswith(("?", ".")) else text + "."


def explain_refusal(
    status: int,
    status_line: str,
    path: str,
    origin: str | None,
    since: datetime,
    client: str,
    say: Say,
) -> str:
    """Why the handshake got ``status``: from the server's log row where there is one, else
    from the declared routes, else the status alone."""
    verdict = route_verdict(path)
    say(f"4. Route in this project: {verdict}")
    failed = f"handshake failed with {status_line!r}"
    if status == 400:  # autobahn refused it; bunws never saw it, so there is no row
        return f"{failed}. {STATUS_HELP[400]}"
    # Under a guessed prefix there is nothing certain to say about the endpoint.
    found = serving_endpoint(path, prefixed=False)
    row, missing = logged_failure(path, since, client)
    if row is not None:
        say(f"5. The server logged this refusal: {row_summary(row)}")
        say(f"     diagnosis: {row.diagnosis}")
        say(f"     hint: {row.hint}")
        typo = "" if found else f"{_sentence(verdict)} "
        return (
            f"{failed}: {typo}bunws logged the refusal as {row_summary(row)}: "
            f"{row.diagnosis} {row.hint}"
        )
    say(f"5. Failed-upgrade log: {missing}")
    if status != 403:
        explanation = STATUS_HELP.get(status, "A WebSocket handshake must be answered 101.")
        where = "" if found else f" In this project, {_sentence(verdict)}"
        return f"{failed}. {explanation}{where}"
    if found is None:
        return (
            f"{failed}: {_sentence(verdict)} bunws refuses a handshake to a path no "
            "endpoint serves (logged as no_such_endpoint)."
        )
    endpoint = found[0]
    sent = repr(origin) if origin else "none sent"
    if endpoint.fetch is None:
        why = (
            f"it has no fetch, so the origin check most likely refused the Origin ({sent}) "
            "(the endpoint's allowed_origins, else BUNWS['ALLOWED_ORIGINS'], else "
            "ALLOWED_HOSTS)"
        )
    else:
        why = f"the origin check refused the Origin ({sent}) or its fetch declined the upgrade"
    return f"{failed}: endpoint {endpoint.name!r} serves {path}, so {why}. {STATUS_HELP[403]}"


def explain_plain_answer(
    status: int, status_line: str, path: str, since: datetime, client: str, say: Say
) -> str:
    """A plain request answered otherwise than 426: the verdict when the endpoint's own fetch
    answered it (fine); ``ProbeFailed`` when bunws's HTTP side does not serve the path."""
    failed = f"fetch() got {status_line!r}, not 426 Upgrade Required"
    try:
        name = http_endpoint(path)
    except Exception as exc:  # a broken URLconf is one of the things the probe explains
        raise ProbeFailed(
            f"{failed}, and this project's URLconf cannot be loaded to tell why: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    if name is not None and status < 500:
        say(
            f"4. This project's URLconf sends {path} to bunws endpoint {name!r}, whose fetch "
            f"answered this request itself with {status_line}, not bunws's 426."
        )
        row, missing = logged_failure(path, since, client)
        if row is not None:
            say(f"5. The server logged it: {row_summary(row)}")
            say(f"     diagnosis: {row.diagnosis}")
        else:
            say(f"5. Failed-upgrade log: {missing}")
        return (
            f"OK: this is WebSocket endpoint {name!r}; its fetch answered this request "
            f"itself with {status} (its own decision, for example a login required). "
            "new WebSocket(url) performs the handshake, which fetch can still upgrade."
        )
    if name is not None:
        raise ProbeFailed(
            f"{failed}: bunws endpoint {name!r}'s view failed; its fetch probably raised. "
            "See the server's log for the traceback."
        )
    if serving_endpoint(path, prefixed=False) is not None:
        raise ProbeFailed(
            f"{failed}: {route_verdict(path)}, but this project's URLconf does not send {path} "
            "to bunws's HTTP side. Include path('', include('bunws.urls')) so plain requests "
            "get the 426."
        )
    raise ProbeFailed(
        f"{failed}: {route_verdict(path)}. "
        + STATUS_HELP.get(status, "This path is not served by bunws's HTTP side.")
    )
