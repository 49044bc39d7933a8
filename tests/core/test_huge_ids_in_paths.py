"""Ids in URL paths that are not ids (too long for a 64-bit column, 100,000 digits) are 404 on
every door, never a 500."""

from __future__ import annotations

import pytest
from django.test import Client

HUGE = ["9223372036854775808", "9" * 30, "9" * 5000, "9" * 100_000]


@pytest.mark.parametrize("digits", HUGE)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/members/{}/"),
        ("get", "/api/v1/roles/{}/"),
        ("delete", "/api/v1/teams/{}/members/{}/"),
        ("get", "/api/v1/invitations/{}/"),
        ("delete", "/api/v1/api-keys/{}/"),
        ("get", "/api/v1/scim/mapping/sync/{}/"),
        ("get", "/o/acme/members/{}/"),
        ("get", "/o/acme/roles/{}/"),
        ("get", "/o/acme/teams/{}/"),
        ("post", "/o/acme/members/invitations/{}/revoke/"),
    ],
)
def test_a_huge_id_in_a_path_is_404(admin_client, api_key, method, path, digits):
    url = path.replace("{}", digits)
    if url.startswith("/api/"):
        r = getattr(Client(), method)(url, HTTP_AUTHORIZATION=f"Bearer {api_key}")
    else:
        r = getattr(admin_client, method)(url)
    assert r.status_code == 404, (url[:80], r.status_code)


@pytest.mark.parametrize("digits", HUGE)
def test_a_huge_scim_id_is_a_scim_404(scim, digits):
    r = scim("GET", f"/Users/{digits}")
    assert r.status_code == 404 and r.json()["status"] == "404"
