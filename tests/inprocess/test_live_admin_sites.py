"""The "Live sockets" page comes with ``FailedUpgradeAdmin`` on any admin site, unpatched.

This module is also the URLconf of its tests: the default admin at ``admin/`` and a custom
``AdminSite`` at ``custom-admin/`` that registers only the failure log's admin.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.contrib.auth.models import User
from django.test import Client
from django.urls import path, reverse
from django.utils import timezone

from bunws.admin import FailedUpgradeAdmin
from bunws.core import diagnosis as d
from bunws.models import FailedUpgrade

custom_site = AdminSite(name="custom")
custom_site.register(FailedUpgrade, FailedUpgradeAdmin)

urlpatterns = [
    path("custom-admin/", custom_site.urls),
    path("admin/", admin.site.urls),
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def test_no_admin_site_is_patched() -> None:
    assert AdminSite.get_urls is admin.sites.AdminSite.get_urls
    for site in (admin.site, custom_site):
        assert "get_urls" not in vars(site) and "get_app_list" not in vars(site)
        assert site.get_urls.__func__ is AdminSite.get_urls  # type: ignore[attr-defined]
        assert site.get_app_list.__func__ is AdminSite.get_app_list  # type: ignore[attr-defined]


def test_a_custom_site_registering_the_log_serves_the_live_page_and_its_json(
    admin_client: Client,
) -> None:
    now = timezone.now()
    row = FailedUpgrade.objects.create(
        endpoint="chat",
        path="/chat/custom/",
        method="GET",
        reason=d.NO_UPGRADE_HEADER,
        diagnosis="x",
        hint="y",
        first_seen=now - timedelta(seconds=1),
        last_seen=now - timedelta(seconds=1),
    )
    page = admin_client.get("/custom-admin/bunws/failedupgrade/live/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Live sockets</h1>" in html
    assert 'data-json-url="/custom-admin/bunws/failedupgrade/live.json"' in html
    assert '<a href="/custom-admin/">Home</a>' in html  # links stay on the custom site
    data = admin_client.get(reverse("custom:bunws_live_json")).json()
    assert data["scope"] == "process"
    [recent] = [r for r in data["failed_upgrades"]["recent"] if r["id"] == row.pk]
    assert recent["url"] == f"/custom-admin/bunws/failedupgrade/{row.pk}/change/"


def test_the_custom_site_refuses_anonymous_visitors(client: Client) -> None:
    for url in ("/custom-admin/bunws/failedupgrade/live/", reverse("custom:bunws_live_json")):
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("custom:login") in response["Location"]


@pytest.mark.parametrize("prefix", ["/admin/", "/custom-admin/"])
def test_the_failure_log_list_links_to_the_live_page(admin_client: Client, prefix: str) -> None:
    html = admin_client.get(f"{prefix}bunws/failedupgrade/").content.decode()
    assert f'href="{prefix}bunws/failedupgrade/live/"' in html and "Live sockets" in html


def test_the_index_entry_renders_the_live_page_at_its_old_address(admin_client: Client) -> None:
    response = admin_client.get("/admin/bunws/live/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Live sockets</h1>" in html
    # The sidebar lists the Live model under the id "bunws-live": the script's root is another.
    assert 'id="bunws-live"' in html and html.count('id="bunws-live-sockets"') == 1


def test_staff_without_permissions_see_the_index_entry_and_the_page(client: Client) -> None:
    client.force_login(User.objects.create_user("staff-only", is_staff=True))
    index = client.get("/admin/").content.decode()
    assert 'href="/admin/bunws/live/"' in index
    assert "/admin/bunws/failedupgrade/" not in index  # the log needs its view permission
    assert client.get("/admin/bunws/live/").status_code == 200
    assert client.get("/admin/bunws/failedupgrade/live/").status_code == 200


def test_the_index_entry_has_no_other_admin_pages(admin_client: Client) -> None:
    for suffix in ("add/", "1/change/", "1/delete/", "1/history/"):
        assert admin_client.get(f"/admin/bunws/live/{suffix}").status_code == 404
