"""bunws's system checks, through Django's ``run_checks()`` and ``override_settings``."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.conf import settings
from django.core.checks import WARNING, CheckMessage, run_checks
from django.core.management import call_command, get_commands
from django.test import override_settings
from django.urls import URLPattern

import bunws
from bunws import endpoint as registry
from bunws.asgi.routing import websocket_urlpatterns

MiB = 1024 * 1024
# Django 6.0+ runs the model checks (JSONField support) against every database, as `check` does.
pytestmark = pytest.mark.django_db


async def _http_only(scope: Any, receive: Any, send: Any) -> None:
    """Stands in for Django's HTTP application."""


# ASGI applications the ASGI_APPLICATION checks are pointed at.
no_websocket = ProtocolTypeRouter({"http": _http_only})
websocket_without_bunws = ProtocolTypeRouter({"websocket": AuthMiddlewareStack(URLRouter([]))})
bunws_behind_other_middleware = ProtocolTypeRouter(
    {
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns()))
        )
    }
)


class RenamedInnerMiddleware:
    """Valid ASGI middleware that keeps its inner application as ``self.wrapped``."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped = wrapped

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.wrapped(scope, receive, send)


bunws_behind_unknown_middleware = ProtocolTypeRouter(
    {"websocket": RenamedInnerMiddleware(URLRouter(websocket_urlpatterns()))}
)

# A URLconf without bunws.urls (ROOT_URLCONF = "tests.inprocess.test_checks").
urlpatterns: list[URLPattern] = []


def bunws_messages() -> dict[str, CheckMessage]:
    """bunws's messages as ``manage.py check`` reports them (silenced ones left out)."""
    messages = run_checks()
    return {m.id: m for m in messages if m.id and m.id.startswith("bunws.") and not m.is_silenced()}


@pytest.fixture(autouse=True)
def debug_on() -> Iterator[None]:
    """The project runs with DEBUG on; Django's test setup turns it off, which W002 reads."""
    with override_settings(DEBUG=True):
        yield


async def message(ws: Any, data: Any) -> None:
    ws.send(data)


def test_the_project_passes_every_bunws_check() -> None:
    assert bunws_messages() == {}


def test_daphne_missing_from_installed_apps_is_e001() -> None:
    apps = [app for app in settings.INSTALLED_APPS if app != "daphne"]
    with override_settings(INSTALLED_APPS=apps):
        found = bunws_messages()
    assert set(found) == {"bunws.E001"}
    assert "first entry of INSTALLED_APPS" in (found["bunws.E001"].hint or "")


def test_daphne_after_staticfiles_is_e002() -> None:
    """staticfiles has its own runserver; listed first, it shadows daphne's (daphne.E001 too)."""
    apps = [app for app in settings.INSTALLED_APPS if app != "daphne"]
    at = apps.index("django.contrib.staticfiles") + 1
    with override_settings(INSTALLED_APPS=[*apps[:at], "daphne", *apps[at:]]):
        assert get_commands()["runserver"] == "django.contrib.staticfiles"
        found = bunws_messages()
    assert set(found) == {"bunws.E002"}
    assert "after 'django.contrib.staticfiles'" in found["bunws.E002"].msg
    assert "before 'django.contrib.staticfiles'" in (found["bunws.E002"].hint or "")


def test_daphne_after_admin_but_before_staticfiles_passes() -> None:
    """daphne needs only to precede the apps with a runserver of their own, as daphne.E001 says."""
    apps = [app for app in settings.INSTALLED_APPS if app != "daphne"]
    assert apps[0] == "django.contrib.admin"
    with override_settings(INSTALLED_APPS=[apps[0], "daphne", *apps[1:]]):
        assert get_commands()["runserver"] == "daphne"  # daphne's runserver is the one in effect
        assert bunws_messages() == {}


@override_settings(ASGI_APPLICATION=None)
def test_unset_asgi_application_is_e003() -> None:
    found = bunws_messages()
    assert set(found) == {"bunws.E003"}
    assert "websocket_urlpatterns()" in (found["bunws.E003"].hint or "")


@override_settings(ASGI_APPLICATION="tests.nowhere.application")
def test_unimportable_asgi_application_is_e004() -> None:
    found = bunws_messages()
    assert set(found) == {"bunws.E004"}
    assert "'tests.nowhere.application'" in found["bunws.E004"].msg


def test_asgi_application_not_routing_websockets_to_bunws_is_warning_w005() -> None:
    for path in (
        "tests.inprocess.test_checks.no_websocket",
        "tests.inprocess.test_checks.websocket_without_bunws",
    ):
        with override_settings(ASGI_APPLICATION=path):
            found = bunws_messages()
        assert set(found) == {"bunws.W005"}, path
        assert found["bunws.W005"].level == WARNING
        assert "does not route WebSocket connections to bunws" in found["bunws.W005"].msg
    with override_settings(
        ASGI_APPLICATION="tests.inprocess.test_checks.bunws_behind_other_middleware"
    ):
        assert bunws_messages() == {}
    silenced = [*settings.SILENCED_SYSTEM_CHECKS, "bunws.E005"]
    path = "tests.inprocess.test_checks.no_websocket"
    with override_settings(ASGI_APPLICATION=path, SILENCED_SYSTEM_CHECKS=silenced):
        assert bunws_messages() == {}  # the id it had before still silences it


def test_middleware_storing_its_inner_app_elsewhere_warns_and_never_fails_commands() -> None:
    path = "tests.inprocess.test_checks.bunws_behind_unknown_middleware"
    with override_settings(ASGI_APPLICATION=path):
        found = bunws_messages()
        call_command("check", stdout=StringIO(), stderr=StringIO())  # raises on any Error
    assert set(found) == {"bunws.W005"}
    assert found["bunws.W005"].level == WARNING
    assert "silence bunws.W005" in (found["bunws.W005"].hint or "")


def test_two_endpoints_on_one_route_is_e006() -> None:
    with registry.isolated():
        bunws.serve("echo/", websocket={"message": message}, name="echo-twin")
        found = bunws_messages()
    assert set(found) == {"bunws.E006"}
    assert "'echo' and 'echo-twin'" in found["bunws.E006"].msg


@override_settings(ROOT_URLCONF="tests.inprocess.test_checks")
def test_missing_bunws_urls_is_w001() -> None:
    found = bunws_messages()
    assert set(found) == {"bunws.W001"}
    assert "404 instead of 426" in found["bunws.W001"].msg
    assert "include('bunws.urls')" in (found["bunws.W001"].hint or "")


def test_in_memory_layer_without_debug_is_w002() -> None:
    with override_settings(DEBUG=False):
        assert set(bunws_messages()) == {"bunws.W002"}
    redis = {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer"}}
    with override_settings(DEBUG=False, CHANNEL_LAYERS=redis):
        assert bunws_messages() == {}
    with override_settings(DEBUG=False, SILENCED_SYSTEM_CHECKS=["bunws.W002"]):
        assert bunws_messages() == {}


def test_max_payload_length_zero_is_w003_and_a_limit_above_daphnes_is_fine() -> None:
    """The endpoint's limit replaces daphne's on its sockets, so only "no limit" is worth a
    warning: then nothing bounds the memory one message can take."""
    with registry.isolated():
        bunws.serve("big/", websocket={"message": message, "max_payload_length": 64 * MiB})
        assert bunws_messages() == {}
        bunws.serve("open/", websocket={"message": message, "max_payload_length": 0})
        found = bunws_messages()
        assert set(found) == {"bunws.W003"}
        assert found["bunws.W003"].obj == "open"
        assert "no limit" in found["bunws.W003"].msg
        assert "max_payload_length" in (found["bunws.W003"].hint or "")


def test_autobahn_without_its_accelerators_is_w004(monkeypatch: pytest.MonkeyPatch) -> None:
    import autobahn.websocket

    assert "bunws.W004" not in bunws_messages()  # NVX is in use on this machine
    monkeypatch.setattr(autobahn.websocket, "USES_NVX", False)
    monkeypatch.setattr(autobahn.websocket, "HAS_NVX", True)
    found = bunws_messages()
    assert "AUTOBAHN_USE_NVX turns them off" in found["bunws.W004"].msg
    monkeypatch.setattr(autobahn.websocket, "HAS_NVX", False)
    assert "did not build" in bunws_messages()["bunws.W004"].msg
