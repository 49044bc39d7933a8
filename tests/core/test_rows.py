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


def test_fetch_joined_is_the_orm_row_and_its_related_rows(org, member):
    from gateway.models import McpToken
    from gateway.tokens import mcp_token_create

    token, _ = mcp_token_create(membership=member, actor=None)
    paths = ["membership", "membership__user", "membership__org"]
    ours = rows.fetch_joined(McpToken, paths, "prefix", token.prefix)
    orm = McpToken.objects.select_related(*paths).get(prefix=token.prefix)
    assert columns(ours) == columns(orm)
    assert columns(ours.membership) == columns(orm.membership)
    assert columns(ours.membership.user) == columns(orm.membership.user)
    assert columns(ours.membership.org) == columns(orm.membership.org)
    assert rows.fetch_joined(McpToken, paths, "prefix", "nope") is None


def test_a_missing_related_row_is_none_and_instance_of_defers_the_rest(org, member):
    from workspace.models import Run

    run = Run.objects.create(org=org, member=None, resource_name="x", trigger="api")
    ours = rows.fetch_joined(Run, ["member", "member__user"], "id", run.pk)
    assert ours.pk == run.pk and ours.member is None
    partial = rows.instance_of(User, ["id", "email"], [member.user.pk, member.user.email])
    assert partial.get_deferred_fields() and partial.email == member.user.email
    assert partial.full_name == member.user.full_name  # a deferred field, read on use
