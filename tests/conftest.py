"""Factories that build state through the services, never by writing rows by hand."""

from __future__ import annotations

import re
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


# Secrets never reach the audit trail: every event any test writes goes through audit.ledger's
# leaf (both the single and the batch path of audit_record), and is scanned there for our own
# secret formats and for secret-named fields holding a value. The test that writes one fails.
SECRET_PATTERNS = [
    re.compile(r"\b(?:gov|gsk|scim)_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}"),  # API, service keys, SCIM
    re.compile(r"\binv_[A-Za-z0-9_-]{20,}"),  # invitation links
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\$(?:pbkdf2|argon2|scrypt)"),  # password hashes
]
SECRET_NAMES = re.compile(
    r"(password|passwd|secret|private_key|signing_key|api_key|access_token|refresh_token|"
    r"id_token|key_hash|one_time)",
    re.IGNORECASE,
)


SECRET_MARKERS = {"", "changed", "set", "unset", "kept", "removed"}


def secrets_in(value: Any, path: str = "$") -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}"
            # A secret-named field may say what happened to the secret, never what it is.
            if (
                SECRET_NAMES.search(str(key))
                and isinstance(item, str)
                and item not in SECRET_MARKERS
            ):
                found.append(f"{where} holds a value")
            found += secrets_in(item, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += secrets_in(item, f"{path}[{i}]")
    elif isinstance(value, str):
        found += [f"{path} matches {p.pattern}" for p in SECRET_PATTERNS if p.search(value)]
    return found


@pytest.fixture(autouse=True, scope="session")
def _audit_events_carry_no_secret() -> Any:
    from audit import ledger

    original = ledger.leaf

    def scanned(values: Any) -> bytes:
        if "leaf" not in values:  # written now (a verifier re-hashing rows passes "leaf")
            found = secrets_in({k: values.get(k) for k in ledger.FIELDS})
            assert not found, f"an audit event ({values.get('action')}) carries a secret: {found}"
        return original(values)

    ledger.leaf = scanned
    yield
    ledger.leaf = original
