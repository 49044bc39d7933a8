"""POST /api/v1/authorize: the runtime's decision API, with the organization's service keys only;
one question or a batch of up to 100; a grant or revoke counts at the very next call."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from orgs.services.api_keys import api_key_create
from orgs.services.service_keys import service_key_create, service_key_revoke
from workspace.services.resources import share_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def service_key(world):
    _, secret = service_key_create(org=world["org"], label="runtime", actor=world["admin"].user)
    return secret


def authorize(key, body):
    return Client().post(
        "/api/v1/authorize",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


def test_one_question_by_member_id_or_email(world, service_key):
    agent = f"agent:{world['agent'].pk}"
    r = authorize(
        service_key, {"member": world["consumer"].pk, "action": "agent.run", "resource": agent}
    )
    assert r.status_code == 200 and r.json()["allowed"] is True and r.json()["reasons"]
    r = authorize(
        service_key, {"member": "CONSUMER@acme.example", "action": "agent.edit", "resource": agent}
    )
    assert r.json()["allowed"] is False
    assert any("agents.edit: missing" in reason for reason in r.json()["reasons"])


def test_a_batch_answers_in_order_and_a_grant_counts_at_the_next_call(world, service_key):
    agent = f"agent:{world['agent'].pk}"
    questions = [
        {"member": world["outsider"].pk, "action": "agent.edit", "resource": agent},
        {"member": world["builder"].pk, "action": "agent.edit", "resource": agent},
    ]
    before = authorize(service_key, {"questions": questions}).json()["decisions"]
    assert [d["allowed"] for d in before] == [False, True]
    share_set(
        obj=world["agent"], level="editor", member=world["outsider"], actor=world["admin"].user
    )
    after = authorize(service_key, {"questions": questions}).json()["decisions"]
    assert [d["allowed"] for d in after] == [True, True]


def test_a_batch_of_100_costs_the_key_and_two_queries(
    world, service_key, django_assert_max_num_queries
):
    agent = f"agent:{world['agent'].pk}"
    questions = [{"member": world["consumer"].pk, "action": "agent.run", "resource": agent}] * 100
    authorize(service_key, {"questions": questions[:1]})  # "last used" is written once a minute
    with django_assert_max_num_queries(3):
        r = authorize(service_key, {"questions": questions})
    assert len(r.json()["decisions"]) == 100


@pytest.mark.parametrize(
    "body",
    [
        {"member": 1, "action": "agent.fly"},
        {"member": True, "action": "agent.view"},
        {"member": 1, "action": "agent.view", "resource": "robot:1"},
        {"member": 1, "action": "agent.view", "resource": "agent:²"},
        {"questions": []},
        {"questions": [{"member": 1, "action": "agent.view"}] * 101},
        {"questions": "all of them"},
        ["not", "an", "object"],
    ],
)
def test_malformed_questions_are_400(world, service_key, body):
    r = authorize(service_key, body)
    assert r.status_code == 400 and r.json()["error"]["message"]


def test_only_service_keys_of_the_organization(world, service_key, other_org, make_member):
    _, member_key = api_key_create(membership=world["admin"], actor=None)
    assert authorize(member_key, {"member": 1, "action": "agent.view"}).status_code == 401
    boss = make_member(other_org, "boss@globex.example", "admin", password=None)
    _, globex = service_key_create(org=other_org, actor=boss.user)
    r = authorize(
        globex,
        {
            "member": world["builder"].pk,
            "action": "agent.edit",
            "resource": f"agent:{world['agent'].pk}",
        },
    )
    assert r.json() == {"allowed": False, "reasons": ["no such member in this organization"]}
    # A service key is refused by the member endpoints.
    assert (
        Client().get("/api/v1/members/", HTTP_AUTHORIZATION=f"Bearer {service_key}").status_code
        == 401
    )


def test_service_keys_are_made_by_admins_audited_and_revocable(world, service_key):
    from core.exceptions import PermissionDenied
    from orgs.models import ServiceKey

    assert AuditEvent.objects.filter(action="service_key.created").count() == 1
    with pytest.raises(PermissionDenied):
        service_key_create(org=world["org"], actor=world["builder"].user)
    service_key_revoke(key=ServiceKey.objects.get(), actor=world["admin"].user)
    assert authorize(service_key, {"member": 1, "action": "agent.view"}).status_code == 401
    assert AuditEvent.objects.filter(action="service_key.revoked").count() == 1
