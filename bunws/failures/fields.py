"""One failed upgrade as the log sees it: what a caller passes, fitted to ``FailedUpgrade``'s
columns, and the WARNING line logged for every attempt before anything touches the database."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any, Required, TypedDict

from bunws.core import stats
from bunws.core.diagnosis import Diagnosis, diagnosis_for, expected_status, log_note
from bunws.core.redact import (
    Client,
    Headers,
    client_ip,
    first_header,
    fit,
    redact_headers,
    redact_query,
    redact_url,
)
from bunws.models import FailedUpgrade

__all__ = ["LOG_FIELD", "Attempt", "FailedUpgradeFields", "Key", "log_attempt", "max_length"]

logger = logging.getLogger("bunws")

#: The most characters of one client-supplied value in a log line.
LOG_FIELD = 200

# (reason, endpoint, path, client address, status): what makes two failures the same row.
Key = tuple[str, str, str, str, int | None]


class FailedUpgradeFields(TypedDict, total=False):
    """What a caller knows about a failed upgrade; ``reason`` and ``path`` are required."""

    reason: Required[str]
    path: Required[str]
    method: str
    endpoint: str
    client: Client
    headers: Headers
    query: str | bytes
    diagnosis: Diagnosis | None
    status: int | None


@functools.cache
def max_length(field: str) -> int:
    """Return the max_length of a FailedUpgrade field, so truncation follows the model."""
    length = getattr(FailedUpgrade._meta.get_field(field), "max_length", None)
    return int(length) if length is not None else 512


@dataclass(frozen=True, slots=True)
class Attempt:
    """One failed upgrade, fitted to the model's columns and already logged."""

    row: dict[str, str]
    status: int | None
    method: str
    origin: str
    user_agent: str
    headers: Headers
    query: str | bytes
    diagnosis: Diagnosis

    @property
    def key(self) -> Key:
        """The fields two failures share when they are counted in one row."""
        row = self.row
        return (row["reason"], row["endpoint"], row["path"], row["client_address"], self.status)

    @property
    def match(self) -> dict[str, Any]:
        """The key as column lookups, for the aggregation queries."""
        return {**self.row, "status": self.status}

    def details(self) -> dict[str, Any]:
        """The columns of a new row beyond the key, redacted only now: a repeat counted in an
        existing row never pays for it."""
        return {
            "method": self.method,
            "origin": self.origin,
            "user_agent": self.user_agent,
            "headers": redact_headers(self.headers),
            "query": fit(redact_query(self.query), max_length("query")),
            "diagnosis": self.diagnosis.summary,
            "hint": self.diagnosis.hint,
        }


def log_attempt(
    *,
    reason: str,
    path: str,
    method: str = "GET",
    endpoint: str = "",
    client: Client = None,
    headers: Headers = (),
    query: str | bytes = "",
    diagnosis: Diagnosis | None = None,
    status: int | None = None,
) -> Attempt:
    """Log the WARNING line of a failed upgrade and fit it to the columns (no query)."""
    if status is None:
        status = expected_status(reason)
    if diagnosis is None:
        diagnosis = diagnosis_for(reason, path=path, status=status)
    row = {
        "reason": fit(reason, max_length("reason")),
        "endpoint": fit(endpoint, max_length("endpoint")),
        "path": fit(path, max_length("path")),
        "client_address": fit(client_ip(client), max_length("client_address")),
    }
    method = fit(method, max_length("method"))
    raw_origin = first_header(headers, "origin")
    origin = "" if raw_origin is None else redact_url(raw_origin, max_length("origin"))
    user_agent = fit(first_header(headers, "user-agent"), max_length("user_agent"))
    stats.process.failed_upgrade(row["endpoint"], row["reason"])
    logger.warning(
        "bunws: failed websocket upgrade reason=%s status=%s endpoint=%s method=%s path=%s "
        "client=%s origin=%s user_agent=%s%s",
        row["reason"],
        "-" if status is None else status,
        row["endpoint"] or "-",
        method,
        fit(row["path"], LOG_FIELD),
        row["client_address"] or "-",
        fit(origin, LOG_FIELD) or "-",
        fit(user_agent, LOG_FIELD) or "-",
        log_note(diagnosis),  # the nginx fix when a proxy dropped the upgrade
    )
    return Attempt(
        row=row,
        status=status,
        method=method,
        origin=origin,
        user_agent=user_agent,
        headers=headers,
        query=query,
        diagnosis=diagnosis,
    )
