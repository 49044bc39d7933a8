"""Integrations: the catalog with what the viewer's roles allow, connections made only with
integrations.connect (audited; a Consumer's attempt is refused and audited as denied)."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from workspace.models import IntegrationConnection

pytestmark = pytest.mark.django_db


def client_for(membership):
    c = Client()
    c.force_login(membership.user)
    return c


def test_an_admin_connects_and_disconnects(world):
    admin = client_for(world["admin"])
    r = admin.post(
        "/o/acme/integrations/connect/",
        {"integration": "snowflake", "label": "Finance DW"},
        follow=True,
    )
    assert "Finance DW is connected" in r.content.decode()
    conn = IntegrationConnection.objects.get()
    assert conn.connected_by == "admin@acme.example" and conn.integration == "snowflake"
    assert AuditEvent.objects.filter(action="integration.connected").count() == 1
    admin.post(f"/o/acme/integrations/{conn.pk}/disconnect/")
    assert not IntegrationConnection.objects.exists()


def test_a_consumer_cannot_connect_and_the_attempt_is_audited(world):
    consumer = client_for(world["consumer"])
    page = consumer.get("/o/acme/integrations/").content.decode()
    assert "Connect an integration" not in page
    r = consumer.post("/o/acme/integrations/connect/", {"integration": "snowflake"}, follow=True)
    assert "integration.connect refused" in r.content.decode()
    assert not IntegrationConnection.objects.exists()
    assert AuditEvent.objects.get(action="access.denied").data["action"] == "integration.connect"


def test_an_unknown_integration_is_refused(world):
    r = client_for(world["admin"]).post(
        "/o/acme/integrations/connect/", {"integration": "myspace"}, follow=True
    )
    assert "Unknown integration" in r.content.decode()
    assert not IntegrationConnection.objects.exists()
