"""scim2-tester (an independent RFC 7643/7644 checker) against the app, in process over WSGI:
discovery, CRUD and PATCH on Users and Groups must give no ERROR or CRITICAL result."""

from __future__ import annotations

import pytest
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_models import Extension, Resource, ResourceType, Schema, ScimProvider
from scim2_tester import Status, check_server

from scim.services.tokens import scim_token_create

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def published_provider(secret: str) -> ScimProvider:
    """The models our /Schemas publishes, with one change: `roles` is left out. A roles value
    must name an existing custom role (400 invalidValue otherwise: a product rule), and a
    checker that fills attributes with random strings cannot know the names. Roles are covered
    by tests/scim/test_users_entra.py instead."""
    docs = Client().get("/scim/v2/Schemas", HTTP_AUTHORIZATION=f"Bearer {secret}").json()
    by_id = {d["id"]: d for d in docs["Resources"]}
    by_id[USER]["attributes"] = [a for a in by_id[USER]["attributes"] if a["name"] != "roles"]
    enterprise = Extension.from_schema(Schema.model_validate(by_id[ENTERPRISE]))
    user = Resource.from_schema(Schema.model_validate(by_id[USER]))
    group = Resource.from_schema(Schema.model_validate(by_id[GROUP]))
    return ScimProvider(
        models=[user, enterprise, group],
        resource_types=[
            ResourceType.from_resource(user[enterprise]),
            ResourceType.from_resource(group),
        ],
    )


@pytest.fixture
def results(org, settings):
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    settings.SCIM_RATE_LIMIT_PER_MINUTE = 100_000
    _, secret = scim_token_create(org=org, label="scim2-tester", actor=None)
    client = WSGISCIMClient(
        get_wsgi_application(),
        base_url="http://localhost/scim/v2",
        headers={"Authorization": f"Bearer {secret}"},
        provider=published_provider(secret),
    )
    # As Django's test client does: a request must not close the test's transaction.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        client.discover()
        yield check_server(client)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def test_scim2_tester_finds_no_error(results):
    bad = [f"{r.title}: {r.reason}" for r in results if r.status in {Status.ERROR, Status.CRITICAL}]
    assert len(results) > 30, "scim2-tester ran too few checks"
    assert not bad, "\n".join(bad)


def test_scim2_tester_ran_crud_and_patch_on_users_and_groups(results):
    passed = {r.title for r in results if r.status == Status.SUCCESS}
    for title in [
        "object_creation",
        "object_query",
        "object_replacement",
        "object_deletion",
        "check_add_attribute",
        "check_replace_attribute",
        "check_remove_attribute",
    ]:
        assert title in passed, title
