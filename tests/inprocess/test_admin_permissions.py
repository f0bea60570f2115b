"""The failed-upgrade admin deletes only for staff with the delete permission, and never edits."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bunws.core import diagnosis as d
from bunws.models import FailedUpgrade


@pytest.fixture
def logged_row(db: None) -> FailedUpgrade:
    now = timezone.now()
    return FailedUpgrade.objects.create(
        path="/ws/x/",
        method="GET",
        reason=d.NO_UPGRADE_HEADER,
        diagnosis="d",
        hint="h",
        first_seen=now,
        last_seen=now,
    )


def _login(client: Client, *codenames: str) -> None:
    user = User.objects.create_user("staffer", password="pw", is_staff=True)
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(user)


def test_staff_without_delete_permission_cannot_delete(
    client: Client, logged_row: FailedUpgrade
) -> None:
    _login(client, "view_failedupgrade")
    url = reverse("admin:bunws_failedupgrade_delete", args=[logged_row.pk])
    assert client.post(url, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:bunws_failedupgrade_changelist")
    bulk = {"action": "delete_selected", "_selected_action": [logged_row.pk], "post": "yes"}
    client.post(changelist, bulk)
    assert FailedUpgrade.objects.filter(pk=logged_row.pk).exists()


def test_staff_with_delete_permission_can_delete_but_never_edit(
    client: Client, logged_row: FailedUpgrade
) -> None:
    _login(client, "view_failedupgrade", "delete_failedupgrade", "change_failedupgrade")
    change = reverse("admin:bunws_failedupgrade_change", args=[logged_row.pk])
    client.post(change, {"path": "/edited/", "count": 99})
    logged_row.refresh_from_db()
    assert (logged_row.path, logged_row.count) == ("/ws/x/", 1)
    url = reverse("admin:bunws_failedupgrade_delete", args=[logged_row.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not FailedUpgrade.objects.filter(pk=logged_row.pk).exists()
