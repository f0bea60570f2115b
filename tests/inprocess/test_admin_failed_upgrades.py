"""The read-only admin for failed upgrade attempts, through Django's test client."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bunws.core import diagnosis as d
from bunws.models import FailedUpgrade

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:bunws_failedupgrade_changelist"


@pytest.fixture
def row() -> FailedUpgrade:
    now = timezone.now()
    diag = d.diagnosis_for(d.CONNECTION_NOT_UPGRADE)
    return FailedUpgrade.objects.create(
        endpoint="chat",
        path="/ws/chat/lobby/",
        method="GET",
        reason=d.CONNECTION_NOT_UPGRADE,
        client_address="203.0.113.9",
        user_agent="curl/8.5.0",
        headers={"host": "example.com", "upgrade": "websocket"},
        diagnosis=diag.summary,
        hint=diag.hint,
        count=3,
        first_seen=now - timedelta(seconds=5),
        last_seen=now,
    )


def _staff(username: str, *perms: str) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


def test_anonymous_visitor_is_sent_to_login(client: Client, row: FailedUpgrade) -> None:
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_superuser_sees_the_log_titled_failed_upgrade_attempts(
    admin_client: Client, row: FailedUpgrade
) -> None:
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Failed upgrade attempts</h1>" in html
    assert "<title>Failed upgrade attempts |" in html
    assert "/ws/chat/lobby/" in html
    assert "203.0.113.9" in html
    assert "Connection header lacks" in html


def test_detail_page_shows_diagnosis_and_hint(admin_client: Client, row: FailedUpgrade) -> None:
    response = admin_client.get(reverse("admin:bunws_failedupgrade_change", args=[row.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "lacks the &#x27;upgrade&#x27; token" in html
    assert "proxy_http_version 1.1" in html
    assert html.index("Diagnosis") < html.index("Occurrences")
    assert 'name="_save"' not in html


def test_detail_page_cannot_be_edited(admin_client: Client, row: FailedUpgrade) -> None:
    url = reverse("admin:bunws_failedupgrade_change", args=[row.pk])
    response = admin_client.post(url, {"path": "/changed/", "count": 1})
    assert response.status_code == 403
    row.refresh_from_db()
    assert row.path == "/ws/chat/lobby/"


def test_add_page_is_forbidden(admin_client: Client) -> None:
    response = admin_client.get(reverse("admin:bunws_failedupgrade_add"))
    assert response.status_code == 403


def test_staff_with_view_permission_sees_the_log(client: Client, row: FailedUpgrade) -> None:
    client.force_login(_staff("viewer", "view_failedupgrade"))
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert "/ws/chat/lobby/" in response.content.decode()


def test_staff_without_view_permission_is_forbidden(client: Client, row: FailedUpgrade) -> None:
    client.force_login(_staff("nobody"))
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 403


def test_superuser_can_delete_a_row(admin_client: Client, row: FailedUpgrade) -> None:
    url = reverse("admin:bunws_failedupgrade_delete", args=[row.pk])
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not FailedUpgrade.objects.exists()


def _logged(reason: str, path: str, **fields: object) -> FailedUpgrade:
    now = timezone.now()
    diag = d.diagnosis_for(reason)
    values: dict[str, object] = {
        "endpoint": "chat",
        "path": path,
        "method": "GET",
        "reason": reason,
        "client_address": "203.0.113.10",
        "headers": {},
        "diagnosis": diag.summary,
        "hint": diag.hint,
        "first_seen": now,
        "last_seen": now,
        **fields,
    }
    return FailedUpgrade.objects.create(**values)


def test_list_shows_what_was_refused_origin_and_fetch_status(admin_client: Client) -> None:
    """The list names the refused origin and the status fetch answered with, without opening
    each row."""
    _logged(d.ORIGIN_NOT_ALLOWED, "/ws/chat/origin/", origin="https://evil.example", status=403)
    _logged(d.FETCH_ANSWERED, "/ws/chat/members/", status=418)
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    html = response.content.decode()
    assert "origin https://evil.example" in html
    assert "fetch answered 418" in html
    assert ">418<" in html  # the status column
