"""The explainer, on the page and through the API: the rules that decide, where each custom role
came from, what is missing for a denial; anyone about themselves, others with admin.roles."""

from __future__ import annotations

import pytest
from django.test import Client

from orgs.services.api_keys import api_key_create
from tests.conftest import api

pytestmark = pytest.mark.django_db


def test_a_denial_says_what_is_missing_and_what_would_grant_it(world):
    _, key = api_key_create(membership=world["admin"], actor=None)
    r = api(
        Client(),
        "GET",
        f"/api/v1/explain/?member=consumer@acme.example&action=agent.edit&resource=agent:{world['agent'].pk}",
        key,
    )
    body = r.json()
    assert r.status_code == 200 and body["allowed"] is False
    assert body["capability"]["needed"] == "agents.edit" and body["capability"]["held"] is False
    assert body["access"]["paths"][0]["via"] == "member of its team Support"
    assert any("agents.edit" in m for m in body["missing"])


def test_an_allowed_run_names_the_role_and_how_it_was_granted(world):
    _, key = api_key_create(membership=world["consumer"], actor=None)
    r = api(
        Client(),
        "GET",
        f"/api/v1/explain/?action=agent.run&resource=agent:{world['agent'].pk}",
        key,
    )
    body = r.json()
    assert body["allowed"] is True and body["member"] == "consumer@acme.example"
    assert body["capability"]["granted_by"] == [{"role": "Consumer", "via": "assigned by hand"}]
    assert {i["integration"] for i in body["integrations"]} == {"slack", "zendesk"}


def test_asking_about_someone_else_needs_admin_roles(world):
    _, key = api_key_create(membership=world["consumer"], actor=None)
    r = api(
        Client(), "GET", "/api/v1/explain/?member=builder@acme.example&action=agent.create", key
    )
    assert r.status_code == 403


def test_the_explainer_page(world):
    client = Client()
    client.force_login(world["admin"].user)
    page = client.get(
        f"/o/acme/explain/?member=outsider@acme.example&action=agent.run&resource=agent:{world['agent'].pk}"
    )
    html = page.content.decode()
    assert page.status_code == 200 and 'id="explanation"' in html and "Denied" in html
    assert "What would grant it" in html
    mine = Client()
    mine.force_login(world["consumer"].user)
    assert 'name="member"' not in mine.get("/o/acme/explain/").content.decode()


def test_the_explainer_page_lists_only_what_the_viewer_may_see(world):
    outsider = Client()
    outsider.force_login(world["outsider"].user)
    assert "Support triage" not in outsider.get("/o/acme/explain/").content.decode()
    consumer = Client()
    consumer.force_login(world["consumer"].user)
    assert "Support triage" in consumer.get("/o/acme/explain/").content.decode()
