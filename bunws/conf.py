"""bunws settings, read lazily from ``settings.BUNWS`` with documented defaults.

Every key is optional. ``get_config()`` checks each value's type and range (``apps.ready()``
calls it, so a bad setting stops startup and ``manage.py check``), caches the merged result, and
the cache is cleared on Django's ``setting_changed`` signal, so ``override_settings(BUNWS=...)``
works in tests.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from bunws.core.age import AGE_FORMS, parse_age
from bunws.exceptions import ConfigurationError


@dataclass(frozen=True)
class Config:
    """The merged bunws settings; field names are the lower-cased ``BUNWS`` keys."""

    #: Origins a browser handshake may come from; ``None`` derives them from ALLOWED_HOSTS.
    allowed_origins: tuple[str, ...] | None = None
    #: Allow handshakes without an ``Origin`` header (scripts, mobile apps; never browsers).
    allow_missing_origin: bool = True
    #: Module name looked up in every installed app for endpoints.
    sockets_module: str = "sockets"
    #: Seconds during which repeated identical failed upgrades update one row.
    failed_upgrade_window: float = 60.0
    #: Seconds a repeat failed upgrade's count may wait in memory before one UPDATE writes it
    #: (0 writes every repeat at once). Keeps a flood of 426 answers as cheap as a plain view.
    failed_upgrade_flush_interval: float = 1.0
    #: Default age for ``bunws_prune``: failed-upgrade rows older than this are removed.
    failed_upgrade_retention: str = "7d"
    #: New failed-upgrade rows one process creates per window; the rest share an overflow row.
    failed_upgrade_rows_per_window: int = 1000
    #: Rows kept at most; each window's first new row deletes the oldest beyond it (0 = no cap).
    failed_upgrade_max_rows: int = 100_000
    #: Channel layer alias used to reach other processes (ignored for the in-memory layer).
    channel_layer: str = "default"
    #: Maximum open sockets per client address (0 = unlimited).
    max_sockets_per_client: int = 0
    #: Messages per second a socket may send before it is closed with 1008 (0 = unlimited).
    max_messages_per_second: int = 0
    #: Seconds over which presence changes are batched into one diff per topic (Phoenix: 1.5).
    presence_broadcast_period: float = 1.5
    #: Seconds after which a silent process's presence entries are removed (Phoenix: 30).
    presence_down_period: float = 30.0
    #: Seconds over which SIGTERM closes the open sockets, in batches, with 1012 (0 = at once);
    #: kept within daphne's --application-close-timeout (bunws.daphne.drain).
    drain_seconds: float = 3.0


_KEYS = {f.name.upper(): f.name for f in fields(Config)}


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _seconds(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _origins(value: object) -> bool:
    return value is None or (
        isinstance(value, list | tuple) and all(isinstance(item, str) for item in value)
    )


def _dotted(value: object) -> bool:
    return isinstance(value, str) and all(part.isidentifier() for part in value.split("."))


def _age(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parse_age(value)
    except ValueError:  # not an age, or too large for a timedelta
        return False
    return True


#: Field -> (is the value valid, what a valid value looks like: the fix the error names).
_RULES: dict[str, tuple[Callable[[object], bool], str]] = {
    "allowed_origins": (
        _origins,
        "None or a list of origins and host patterns, such as "
        "['https://example.com', '.example.com']",
    ),
    "allow_missing_origin": (lambda value: isinstance(value, bool), "True or False"),
    "sockets_module": (_dotted, "a module name such as 'sockets' or 'ws.endpoints'"),
    "failed_upgrade_window": (_seconds, "a number of seconds >= 0, such as 60"),
    "failed_upgrade_flush_interval": (
        _seconds,
        "a number of seconds >= 0, such as 1.0 (0 writes every repeat at once)",
    ),
    "failed_upgrade_retention": (_age, f"an age string: {AGE_FORMS}"),
    "failed_upgrade_rows_per_window": (_whole, "a whole number >= 0, such as 1000"),
    "failed_upgrade_max_rows": (_whole, "a whole number >= 0, such as 100000 (0 = no cap)"),
    "channel_layer": (
        lambda value: isinstance(value, str) and value != "",
        "the alias of a CHANNEL_LAYERS entry, such as 'default'",
    ),
    "max_sockets_per_client": (_whole, "a whole number >= 0, such as 20 (0 = unlimited)"),
    "max_messages_per_second": (_whole, "a whole number >= 0, such as 50 (0 = unlimited)"),
    "presence_broadcast_period": (
        lambda value: _seconds(value) and 0.01 <= value <= 60,  # type: ignore[operator]
        "a number of seconds between 0.01 and 60, such as 1.5",
    ),
    "presence_down_period": (
        lambda value: _seconds(value) and 2 <= value <= 60,  # type: ignore[operator]
        "a number of seconds between 2 and 60, such as 30 (processes write their liveness "
        "every 0.5 s, and the registry forgets a process after 60 s)",
    ),
    "drain_seconds": (
        lambda value: _seconds(value) and value <= 600,  # type: ignore[operator]
        "a number of seconds between 0 and 600, such as 3 (0 closes every socket at once; "
        "keep it within daphne's --application-close-timeout, 10 s by default)",
    ),
}


def _checked(key: str, name: str, value: Any) -> Any:
    """``value`` for ``BUNWS[key]``, or ConfigurationError naming the key, the value and the fix."""
    valid, expected = _RULES[name]
    if not valid(value):
        raise ConfigurationError(
            f"BUNWS[{key!r}] must be {expected}; got {value!r} ({type(value).__name__})."
        )
    if name == "channel_layer":
        aliases = getattr(settings, "CHANNEL_LAYERS", None) or {}
        # "default" with no CHANNEL_LAYERS at all is what leaving the key out means (W002).
        if value not in aliases and (aliases or value != "default"):
            known = ", ".join(repr(alias) for alias in aliases) or "none (CHANNEL_LAYERS is empty)"
            raise ConfigurationError(
                f"BUNWS[{key!r}] is {value!r}, but CHANNEL_LAYERS has no such alias: name one "
                f"of its entries (defined: {known}), or add {value!r} to CHANNEL_LAYERS."
            )
    if name == "allowed_origins" and value is not None:
        return tuple(value)
    return value


@functools.cache
def get_config() -> Config:
    """Return the current bunws settings merged over the defaults, each value checked."""
    raw = getattr(settings, "BUNWS", None)
    if raw is None:
        return Config()
    if not isinstance(raw, Mapping):
        raise ConfigurationError(
            f"settings.BUNWS must be a dict such as {{'MAX_SOCKETS_PER_CLIENT': 20}}; got "
            f"{raw!r} ({type(raw).__name__})."
        )
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = _KEYS.get(key)
        if name is None:
            known = ", ".join(sorted(_KEYS))
            raise ConfigurationError(
                f"unknown bunws setting BUNWS[{key!r}]: the known keys are {known}."
            )
        values[name] = _checked(key, name, value)
    return Config(**values)


@receiver(setting_changed)
def _clear_cache(*, setting: str, **kwargs: Any) -> None:
    if setting in {"BUNWS", "ALLOWED_HOSTS", "DEBUG", "CHANNEL_LAYERS"}:
        get_config.cache_clear()
