"""View as: an admin sees the dashboard as a member sees it, read-only, with a banner, audited
from start to stop; only admins may, and nothing can be changed meanwhile."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from orgs.models import CustomRole

pytestmark = pytest.mark.django_db


def test_an_admin_views_as_a_member_read_only(admin_client, admin, member):
    r = admin_client.post(f"/o/acme/members/{member.pk}/view-as/")
    assert r.status_code == 302 and r["Location"] == "/o/acme/me/"
    page = admin_client.get("/o/acme/me/").content.decode()
    assert 'id="view-as-banner"' in page and "member@acme.example" in page
    assert admin_client.get("/o/acme/members/").status_code == 403  # what the member gets
    r = admin_client.post("/o/acme/roles/new/", {"name": "Sneaky"}, follow=True)
    assert "read-only" in r.content.decode()
    assert not CustomRole.objects.filter(name="Sneaky").exists()
    started = AuditEvent.objects.get(action="admin.view_as_started")
    assert (
        started.actor_label == "admin@acme.example"
        and started.data["member"] == "member@acme.example"
    )
    admin_client.post("/o/acme/view-as/stop/")
    assert AuditEvent.objects.filter(action="admin.view_as_stopped").count() == 1
    assert admin_client.get("/o/acme/members/").status_code == 200
    assert 'id="view-as-banner"' not in admin_client.get("/o/acme/me/").content.decode()


def test_only_admins_view_as(member_client, admin):
    r = member_client.post(f"/o/acme/members/{admin.pk}/view-as/")
    assert r.status_code == 403
    assert not AuditEvent.objects.filter(action="admin.view_as_started").exists()
