"""U+0000 in a query parameter is a 400 on every door, never a database error (PostgreSQL text
cannot hold it: these searches were 500s before)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import audit_count


@pytest.mark.parametrize(
    "url",
    [
        "/o/acme/members/?q=a%00b",
        "/o/acme/audit/?actor=a%00",
        "/o/acme/audit/?target=%00",
        "/o/acme/roles/?a%00=1",
    ],
)
def test_dashboard_search_with_a_nul_is_400(admin_client, url):
    r = admin_client.get(url)
    assert r.status_code == 400 and "NUL character" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "url", ["/api/v1/members/?q=%00", "/api/v1/audit-events/?actor=%00x", "/api/v1/teams/?q=%00"]
)
def test_api_search_with_a_nul_is_400_json(api_key, url):
    before = audit_count()
    r = Client().get(url, HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"
    assert audit_count() == before


def test_a_query_without_nul_is_untouched(admin_client):
    assert admin_client.get("/o/acme/members/?q=a%2500b").status_code == 200  # "%00" as text
