"""Eight workers ask for the same member's token while it expires: Okta rotates refresh tokens
and revokes the whole grant when a rotated one is used again, so exactly one refresh may happen.
Each worker is a thread with its own database connection, calling the runtime's API."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import requests
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from core import crypto
from credentials.models import ServiceConnection
from credentials.tokens import fresh_token
from tests.conftest import api
from tests.credentials.conftest import connect
from workspace.models import Run

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_eight_workers_one_refresh_the_grant_survives(
    org, admin, analyst, analyst_client, snowflake, okta
):
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: the workers' row lock is the point, and SQLite serializes whole "
            "transactions instead (make test runs it on PostgreSQL)"
        )
    from orgs.services.service_keys import service_key_create

    _, key = service_key_create(org=org, label="runtime", actor=admin.user)
    connect(analyst_client, org, snowflake)
    conn = ServiceConnection.objects.get(membership=analyst)
    ServiceConnection.objects.filter(pk=conn.pk).update(
        expires_at=timezone.now() + timedelta(seconds=5)  # inside the minute: refresh first
    )
    run = Run.objects.create(
        org=org, member=analyst, resource_name="Report", trigger="api", status="running"
    )
    before = len(okta.refreshes)
    start = threading.Barrier(8)
    got: list[tuple[int, str]] = []

    def worker() -> None:
        try:
            start.wait()
            response = api(
                Client(),
                "POST",
                "/api/v1/credentials/token",
                key,
                {"member": analyst.pk, "service": "Snowflake", "run": run.pk},
            )
            got.append((response.status_code, response.json().get("access_token", "")))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [status for status, _ in got] == [200] * 8, got
    assert len(okta.refreshes) - before == 1  # one refresh for eight workers
    tokens = {token for _, token in got}
    assert len(tokens) == 1
    userinfo = requests.get(
        f"{okta.issuer}/me", headers={"Authorization": f"Bearer {tokens.pop()}"}, timeout=5
    )
    assert userinfo.status_code == 200  # Okta takes the token they all got
    conn.refresh_from_db()
    assert conn.status == "connected"
    again = fresh_token(conn, force=True)  # the grant is alive: the stored refresh token works
    assert again.refreshed and crypto.decrypt(conn.access_token) != again.access_token
