"""core.rows, the hand-written SQL: every result is compared with what the ORM does, so a Django
upgrade that changes the private API it leans on (`_meta`, `_state`, database converters,
`_prepare_related_fields_for_save`) fails here."""

from __future__ import annotations

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
