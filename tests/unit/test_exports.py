"""The public API is exactly what docs/bun-api.md promises, and importable lazily."""

from __future__ import annotations

import bunws

DOCUMENTED = {
    "BunwsError",
    "ConfigurationError",
    "Endpoint",
    "OriginCheck",
    "ServerWebSocket",
    "SocketStateError",
    "UnsupportedFeature",
    "apresence",
    "apublish",
    "presence",
    "publish",
    "serve",
    "subscriber_count",
    "websocket_urlpatterns",
}


def test_all_lists_exactly_the_documented_names() -> None:
    assert set(bunws.__all__) == DOCUMENTED


def test_every_exported_name_resolves() -> None:
    for name in bunws.__all__:
        assert getattr(bunws, name) is not None, name


def test_configuration_errors_are_improperly_configured_and_bunws_errors() -> None:
    from django.core.exceptions import ImproperlyConfigured

    assert issubclass(bunws.ConfigurationError, ImproperlyConfigured)
    assert issubclass(bunws.UnsupportedFeature, bunws.BunwsError)
