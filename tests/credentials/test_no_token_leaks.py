"""No token ever appears in a log line, an audit event or a page: a member connects, the
runtime gets tokens (one refreshed, one narrowed, one refused), the connection is disconnected,
with every logger at DEBUG; then all of it is scanned for every token and the client secret."""

from __future__ import annotations

import logging

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from core import crypto
from credentials.models import ServiceConnection
from tests.conftest import api
from tests.credentials.conftest import connect
from tests.credentials.okta_server import SECRET
from workspace.models import Run

pytestmark = pytest.mark.django_db


def test_tokens_never_reach_logs_audit_events_or_pages(
    caplog,
    org,
    admin,
    analyst,
    analyst_client,
    snowflake,
    client,
    admin_client,
    django_capture_on_commit_callbacks,
):
    from orgs.services.service_keys import service_key_create

    caplog.set_level(logging.DEBUG)
    _, key = service_key_create(org=org, label="runtime", actor=admin.user)
    pages = [connect(analyst_client, org, snowflake).content.decode()]
    conn = ServiceConnection.objects.get(membership=analyst)
    secrets = {crypto.decrypt(conn.access_token), crypto.decrypt(conn.refresh_token), SECRET}
    run = Run.objects.create(
        org=org, member=analyst, resource_name="Report", trigger="api", status="running"
    )
    body = {"member": analyst.pk, "service": "Snowflake", "run": run.pk}
    ServiceConnection.objects.filter(pk=conn.pk).update(expires_at=timezone.now())
    for extra in ({}, {"scopes": ["session:role:ANALYST"]}, {"scopes": ["session:role:ADMIN"]}):
        response = api(client, "POST", "/api/v1/credentials/token", key, {**body, **extra})
        if response.status_code == 200:
            secrets.add(response.json()["access_token"])
        else:
            pages.append(response.content.decode())
    conn.refresh_from_db()
    secrets |= {crypto.decrypt(conn.access_token), crypto.decrypt(conn.refresh_token)}
    for path in ("/me/credentials/", "/settings/credentials/"):
        pages.append(analyst_client.get(f"/o/{org.slug}{path}").content.decode())
        pages.append(admin_client.get(f"/o/{org.slug}{path}").content.decode())
    with django_capture_on_commit_callbacks(execute=True):
        analyst_client.post(f"/o/{org.slug}/me/credentials/connections/{conn.pk}/disconnect/")
    pages.append(
        analyst_client.get("/credentials/oauth/callback/?error=x&state=nope").content.decode()
    )
    assert len(secrets) >= 5
    logged = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    audited = "\n".join(
        f"{e.data} {e.target_label} {e.target_id}" for e in AuditEvent.objects.all()
    )
    for secret in secrets:
        assert secret not in logged
        assert secret not in audited
        for page in pages:
            assert secret not in page
    assert AuditEvent.objects.filter(action="credential.token_issued").count() == 2
