"""Factories that build state through the services, never by writing rows by hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from audit.models import AuditEvent
from identity.services import user_set_password
from orgs.choices import RbacRole
from orgs.models import Membership, Organization
from orgs.services.api_keys import api_key_create
from orgs.services.members import membership_add
from orgs.services.orgs import org_create

PASSWORD = "correct-horse-battery-staple-42"


def assert_audited(action: str, *, org: Organization | None = None, **expected: Any) -> AuditEvent:
    """The newest event named `action` (in `org`'s log when given), checked field by field
    against `expected`; fails naming what is missing or different."""
    events = AuditEvent.objects.filter(action=action)
    if org is not None:
        events = events.filter(org_id=org.pk)
    event = events.order_by("-id").first()
    assert event is not None, f"no {action!r} event" + (f" in {org.slug}'s log" if org else "")
    for field, value in expected.items():
        assert getattr(event, field) == value, f"{action}: {field} is {getattr(event, field)!r}"
    return event


def verified_domains(org: Organization, domains: list[str]) -> None:
    """Claim the domains and verify them as an operator would (--skip-dns): the tests that are
    not about DNS verification need a verified domain to route and link."""
    from orgs.selectors import domain_claim_get
    from orgs.services.domains import domain_verify, domains_set

    current = [c.domain for c in org.domain_claims.all()]
    domains_set(org=org, domains=[*current, *domains], actor=None)
    for domain in domains:
        domain_verify(claim=domain_claim_get(org=org, domain=domain), actor=None, skip_dns=True)


def audit_count(**filters: Any) -> int:
    return AuditEvent.objects.filter(**filters).count()


@pytest.fixture
def make_org(db: None) -> Callable[..., Organization]:
    def make(slug: str = "acme", name: str | None = None) -> Organization:
        return org_create(slug=slug, name=name or slug.title(), actor=None)

    return make


@pytest.fixture
def make_member(db: None) -> Callable[..., Membership]:
    def make(
        org: Organization,
        email: str,
        role: str = RbacRole.MEMBER,
        password: str | None = PASSWORD,
        full_name: str = "",
    ) -> Membership:
        m = membership_add(
            org=org, email=email, role=role, full_name=full_name, actor=None
        ).membership
        if password:
            m.user = user_set_password(user=m.user, password=password, actor=None, orgs=[org])
        return m

    return make


@pytest.fixture
def org(make_org: Callable[..., Organization]) -> Organization:
    return make_org("acme", "Acme Corp")


@pytest.fixture
def other_org(make_org: Callable[..., Organization]) -> Organization:
    return make_org("globex", "Globex")


@pytest.fixture
def admin(org: Organization, make_member: Callable[..., Membership]) -> Membership:
    return make_member(org, "admin@acme.example", RbacRole.ADMIN)


@pytest.fixture
def member(
    org: Organization, make_member: Callable[..., Membership], admin: Membership
) -> Membership:
    return make_member(org, "member@acme.example")


@pytest.fixture
def admin_client(admin: Membership) -> Client:
    client = Client()
    client.force_login(admin.user)
    return client


@pytest.fixture
def member_client(member: Membership) -> Client:
    client = Client()
    client.force_login(member.user)
    return client


@pytest.fixture
def api_key(admin: Membership) -> str:
    _, secret = api_key_create(membership=admin, actor=None)
    return secret


def api(client: Client, method: str, path: str, key: str, data: Any = None, **extra: Any) -> Any:
    kwargs: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {key}", **extra}
    if data is not None:
        import json

        kwargs["data"] = data if isinstance(data, (str, bytes)) else json.dumps(data)
        kwargs["content_type"] = "application/json"
    return getattr(client, method.lower())(path, **kwargs)


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Rate-limit counters and cached configuration never leak from one test to the next."""
    from django.core.cache import cache

    cache.clear()
