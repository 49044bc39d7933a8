"""core.rows, the hand-written SQL: every result is compared with what the ORM does, so a Django
upgrade that changes the private API it leans on (`_meta`, `_state`, database converters,
`_prepare_related_fields_for_save`) fails here."""

from __future__ import annotations

import pytest

from core import rows
from identity.models import User
from scim.models import ScimToken
from scim.services.tokens import scim_token_create


def columns(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_fetch_with_related_is_the_orm_row_and_its_related_row(org):
    token, _ = scim_token_create(org=org, label="Okta", actor=None)
    ScimToken.objects.filter(pk=token.pk).update(last_used_at=token.created_at)  # a datetime
    ours = rows.fetch_with_related(ScimToken, "org", "prefix", token.prefix)
    orm = ScimToken.objects.select_related("org").get(prefix=token.prefix)
    assert columns(ours) == columns(orm)
    assert columns(ours.org) == columns(orm.org)
    assert not ours._state.adding and ours._state.db == "default"
    assert ours.last_used_at.tzinfo is not None  # through the database converters


def test_the_service_key_lookup_is_the_orm_row(org):
    from orgs.models import ServiceKey
    from orgs.selectors import service_key_by_prefix
    from orgs.services.service_keys import service_key_create

    key, _ = service_key_create(org=org, label="runtime", actor=None)
    ours = service_key_by_prefix(key.prefix)
    orm = ServiceKey.objects.select_related("org").get(prefix=key.prefix)
    assert columns(ours) == columns(orm) and columns(ours.org) == columns(orm.org)
    assert service_key_by_prefix("nope") is None


def test_fetch_with_related_finds_nothing_for_an_unknown_value(org):
    assert rows.fetch_with_related(ScimToken, "org", "prefix", "nope") is None
    assert rows.fetch_with_related(ScimToken, "org", "prefix", "' OR '1'='1") is None


def test_fetch_by_lower_is_the_orm_row_compared_as_the_functional_index_compares(member):
    user = member.user
    ours = rows.fetch_by_lower(User, "email", user.email.upper())
    orm = User.objects.get(email__lower=user.email.lower())
    assert columns(ours) == columns(orm)
    assert ours.date_joined.tzinfo is not None  # through the database converters
    assert rows.fetch_by_lower(User, "email", "%") is None
    assert rows.fetch_by_lower(User, "email", "nobody@example.com") is None


def _prepared_here() -> int:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_prepared_statements")
        return cur.fetchone()[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("prepare", [True, False])
def test_on_postgresql_the_hot_reads_are_prepared_once_per_connection(
    org, on_postgres, settings, prepare
):
    from django.db import connection

    if not on_postgres:
        pytest.skip("prepared statements are PostgreSQL's (make test runs this there)")
    settings.GOVERNANCE_DB_PREPARE = prepare
    connection.close()  # a fresh session: none of this suite's earlier statements prepared
    token, _ = scim_token_create(org=org, label="Okta", actor=None)
    before = _prepared_here()
    for _ in range(3):
        found = rows.fetch_with_related(ScimToken, "org", "prefix", token.prefix)
        assert found.pk == token.pk and found.org.pk == org.pk
    assert _prepared_here() - before == (1 if prepare else 0)
