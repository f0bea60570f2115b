"""Ages such as ``7d`` as settings and ``bunws_prune --older-than`` spell them (standard library
only, so settings validation can use it without loading the failed-upgrade log)."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["AGE_FORMS", "parse_age"]

#: How an age is spelled, for error messages and ``--help``.
AGE_FORMS = "a whole number followed by s, m, h, d or w, such as 30m, 12h, 7d or 2w"

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_AGE = re.compile(r"([0-9]+)([smhdw])")


def parse_age(value: str) -> timedelta:
    """Turn an age such as ``7d`` into a timedelta, or raise ValueError naming the value."""
    match = _AGE.fullmatch(str(value).strip().lower())
    if match is None:
        raise ValueError(f"invalid age {value!r}: use {AGE_FORMS}.")
    try:
        return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    except OverflowError:
        raise ValueError(f"age {value!r} is too large: use {AGE_FORMS}.") from None
