"""The "Live sockets" admin page and its JSON view, through Django's test client."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bunws.core import diagnosis as d
from bunws.models import FailedUpgrade
from bunws.testing import SocketClient

pytestmark = pytest.mark.django_db

PAGE = "admin:bunws_live"
JSON = "admin:bunws_live_json"


def live(client: Client) -> dict[str, Any]:
    response = client.get(reverse(JSON))
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def endpoint(data: dict[str, Any], name: str) -> int:
    [row] = [row for row in data["endpoints"] if row["name"] == name]
    return int(row["open_sockets"])


def test_anonymous_visitors_are_sent_to_login(client: Client) -> None:
    for name in (PAGE, JSON):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert reverse("admin:login") in response["Location"]


def test_non_staff_users_are_refused(client: Client) -> None:
    client.force_login(User.objects.create_user("plain"))
    assert client.get(reverse(JSON)).status_code == 302


def test_open_sockets_and_topic_subscribers_are_counted_live(admin_client: Client) -> None:
    before = live(admin_client)
    assert before["scope"] == "process" and before["cluster_layer"] is None
    with SocketClient("echo/"), SocketClient("t/room/live-a/"), SocketClient("t/room/live-a/"):
        during = live(admin_client)
        assert endpoint(during, "echo") == endpoint(before, "echo") + 1
        assert endpoint(during, "t-room") == endpoint(before, "t-room") + 2
        assert {"topic": "live-a", "subscribers": 2} in during["topics"]
    after = live(admin_client)
    assert endpoint(after, "echo") == endpoint(before, "echo")
    assert all(row["topic"] != "live-a" for row in after["topics"])


def test_failed_upgrades_are_grouped_by_reason(admin_client: Client) -> None:
    now = timezone.now()
    for age, path, count in ((2, "/chat/a/", 3), (1, "/chat/b/", 2)):
        FailedUpgrade.objects.create(
            endpoint="chat",
            path=path,
            method="GET",
            reason=d.NO_UPGRADE_HEADER,
            diagnosis="x",
            hint="y",
            count=count,
            first_seen=now - timedelta(seconds=age),
            last_seen=now - timedelta(seconds=age),
        )
    failed = live(admin_client)["failed_upgrades"]
    assert failed["by_reason"][0]["reason"] == d.NO_UPGRADE_HEADER
    assert failed["by_reason"][0]["attempts"] == 5
    assert [row["path"] for row in failed["recent"]] == ["/chat/b/", "/chat/a/"]


def test_page_renders_tables_and_the_polling_script(admin_client: Client) -> None:
    response = admin_client.get(reverse(PAGE))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Live sockets</h1>" in html
    assert "Counts for this process" in html
    assert "<code>chat/&lt;str:room&gt;/</code>" in html
    assert 'data-json-url="/admin/bunws/failedupgrade/live.json"' in html
    assert "setInterval(poll, 2000)" in html


def test_staff_without_log_permission_sees_counts_but_not_failures(client: Client) -> None:
    client.force_login(User.objects.create_user("staffer", is_staff=True))
    data = live(client)
    assert data["failed_upgrades"] == {"visible": False, "by_reason": [], "recent": []}
    assert "Recent failed upgrades" not in client.get(reverse(PAGE)).content.decode()


def test_admin_index_links_to_the_live_page(admin_client: Client) -> None:
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert 'href="/admin/bunws/live/"' in html and "Live sockets" in html
