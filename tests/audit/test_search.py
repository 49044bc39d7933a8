"""The audit log's filters: several actions or prefixes, outcome, resource by type, type:id or
whole label, actor by whole label or kind:id, on the page and the API, each refusing what it
cannot read; and page 1 and a deep page cost the same number of queries."""

from __future__ import annotations

import pytest
from django.db import transaction

from audit.models import AuditEvent
from audit.selectors import AuditFilter, audit_events, audit_page
from audit.services import audit_record
from tests.conftest import api

pytestmark = pytest.mark.django_db


def _event(org, action, *, target=("team", "1", "Support"), actor=None):
    with transaction.atomic():
        return audit_record(
            action=action,
            org=org,
            actor=actor,
            target_type=target[0],
            target_id=target[1],
            target_label=target[2],
        )


@pytest.fixture
def trail(org, admin):
    return {
        "created": _event(org, "team.created", actor=admin.user),
        "denied": _event(org, "access.denied", target=("agent", "4", "Support triage")),
        "failed": _event(org, "sso.test_failed", target=("ssoconnection", "1", "SSO")),
        "scim": _event(org, "scim.user_created", target=("idpuser", "9", "ada@acme.example")),
        "other": _event(org, "team.created", target=("team", "2", "Data")),
    }


def ids(org, **f) -> list[int]:
    return [e.pk for e in audit_events(org=org, filters=AuditFilter(**f))]


def test_each_filter(org, admin, trail):
    t = {k: v.pk for k, v in trail.items()}
    assert ids(org, actions=("access.denied", "scim.")) == [t["scim"], t["denied"]]
    assert ids(org, outcome="denied") == [t["denied"]]
    assert ids(org, outcome="failed") == [t["failed"]]
    assert t["created"] in ids(org, outcome="allowed")
    assert t["denied"] not in ids(org, outcome="allowed")
    assert ids(org, target="team:2") == [t["other"]]
    assert ids(org, target="team:", actions=("team.created",)) == [t["other"], t["created"]]
    assert ids(org, target="SUPPORT TRIAGE") == [t["denied"]]
    assert ids(org, target="Support tri") == []  # whole labels only: an index answers them
    assert ids(org, actor="ADMIN@ACME.EXAMPLE") == [t["created"]]
    assert ids(org, actor=f"user:{admin.user.pk}") == [t["created"]]


def test_other_organizations_events_never_match(org, other_org, trail):
    _event(other_org, "access.denied")
    assert ids(org, outcome="denied") == [trail["denied"].pk]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("action=nope", "Unknown action"),
        ("action=zzz.", "Unknown action"),
        ("outcome=maybe", "Unknown outcome"),
        ("since=yesterday", "is not a date-time"),
    ],
)
def test_unreadable_filters_are_400_in_the_api_and_named_on_the_page(
    client, admin_client, api_key, trail, query, message
):
    r = api(client, "GET", f"/api/v1/audit-events/?{query}", api_key)
    assert r.status_code == 400 and message in r.json()["error"]["message"]
    assert message in admin_client.get(f"/o/acme/audit/?{query}").content.decode()


def test_the_page_and_api_take_several_actions_and_an_outcome(client, admin_client, api_key, trail):
    r = api(client, "GET", "/api/v1/audit-events/?action=scim.&action=sso.", api_key).json()
    assert {e["action"] for e in r["results"]} == {"scim.user_created", "sso.test_failed"}
    html = admin_client.get("/o/acme/audit/?outcome=denied").content.decode()
    assert "Support triage" in html and "ada@acme.example" not in html


@pytest.mark.parametrize("n", [5, 60])
def test_a_deep_page_costs_what_the_first_costs(org, n, django_assert_max_num_queries):
    for i in range(n):
        _event(org, "access.denied", target=("agent", str(i), f"agent {i}"))
    f = AuditFilter(outcome="denied")
    _, cursor = audit_page(org=org, filters=f, limit=2)
    with django_assert_max_num_queries(1):
        audit_page(org=org, filters=f, before=cursor, limit=2)


def test_the_audit_page_charts_its_last_30_days_in_constant_queries(
    org, admin_client, trail, django_assert_max_num_queries
):
    from django.core.cache import cache

    cache.clear()
    for i in range(30):
        _event(org, "access.denied", target=("agent", str(i), f"agent {i}"))
    admin_client.get("/o/acme/audit/")  # warm (sessions, the figures' cache)
    cache.clear()
    with django_assert_max_num_queries(14):
        r = admin_client.get("/o/acme/audit/")
    figures = r.context["figures"]
    assert sum(figures["denied"]) == 31 and sum(figures["by_category"]["access"]) == 31
    assert figures["top_actors"][0]["actor"] == "admin@acme.example"


def test_an_events_page_shows_every_field_and_links_actor_and_target(
    org, admin, admin_client, make_member, other_org
):
    from orgs.services.teams import team_create

    team = team_create(org=org, name="Data", actor=admin.user)
    event = AuditEvent.objects.filter(org_id=org.pk, action="team.created").latest("id")
    html = admin_client.get(f"/o/acme/audit/{event.pk}/").content.decode()
    assert f'href="/o/acme/members/{admin.pk}/" id="actor-link">admin@acme.example' in html
    assert f'href="/o/acme/teams/{team.pk}/" id="target-link">Data' in html
    assert 'id="leaf-ok"' in html and event.leaf in html and "not sealed yet" in html
    listing = admin_client.get("/o/acme/audit/").content.decode()
    assert f'href="/o/acme/audit/{event.pk}/"' in listing
    theirs = _event(other_org, "team.created")
    assert admin_client.get(f"/o/acme/audit/{theirs.pk}/").status_code == 404
    assert admin_client.get("/o/acme/audit/99999999/").status_code == 404


def test_an_events_page_flags_a_leaf_that_no_longer_matches(org, admin_client, trail):
    from tests.audit.test_tamper_evidence import tamper

    tamper("UPDATE audit_auditevent SET target_label = 'x' WHERE id = %s", [trail["denied"].pk])
    html = admin_client.get(f"/o/acme/audit/{trail['denied'].pk}/").content.decode()
    assert 'id="leaf-broken"' in html
