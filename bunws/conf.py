"""bunws settings, read lazily from ``settings.BUNWS`` with documented defaults.

Every key is optional; ``get_config()`` caches the merged result and the cache is cleared on
Django's ``setting_changed`` signal, so ``override_settings(BUNWS=...)`` works in tests.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

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


_KEYS = {f.name.upper(): f.name for f in fields(Config)}


@functools.cache
def get_config() -> Config:
    """Return the current bunws settings merged over the defaults."""
    raw: dict[str, Any] = dict(getattr(settings, "BUNWS", {}) or {})
    values: dict[str, Any] = {}
    for key, value in raw.items():
        name = _KEYS.get(key)
        if name is None:
            known = ", ".join(sorted(_KEYS))
            raise ConfigurationError(
                f"unknown bunws setting BUNWS[{key!r}]: the known keys are {known}."
            )
        if name == "allowed_origins" and value is not None:
            value = tuple(value)
        values[name] = value
    return Config(**values)


@receiver(setting_changed)
def _clear_cache(*, setting: str, **kwargs: Any) -> None:
    if setting in {"BUNWS", "ALLOWED_HOSTS", "DEBUG"}:
        get_config.cache_clear()
