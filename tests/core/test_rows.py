"""core.rows, the hand-written SQL: every result is compared with what the ORM does, so a Django
upgrade that changes the private API it leans on (`_meta`, `_state`, database converters,
`_prepare_related_fields_for_save`) fails here."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models.signals import post_save
from django.forms.models import model_to_dict

from audit.choices import AuditAction
from audit.models import AuditEvent
from core import rows
from identity.models import User
from orgs.models import Membership
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


def test_insert_many_stores_what_save_would_and_sets_the_pks(org, admin):
    events = [
        AuditEvent(
            org_id=org.pk,
            action=AuditAction.MEMBER_ADDED,
            actor_kind="system",
            target_label=f"m{i}",
            data={"new": {"i": i, "when": "x"}},
        )
        for i in range(3)
    ]
    with transaction.atomic():
        rows.insert_many(events)
    assert all(e.pk and not e._state.adding for e in events)
    for event in events:
        stored = AuditEvent.objects.get(pk=event.pk)
        assert model_to_dict(stored) == model_to_dict(event)
        assert stored.occurred_at == event.occurred_at  # the default, applied before the write


def test_insert_many_applies_auto_now_and_defaults_like_save(org):
    user = User.objects.create(email="ada@acme.example")
    membership = Membership(org=org, user=user, source="scim")
    rows.insert_many([membership])
    stored = Membership.objects.get(pk=membership.pk)
    assert model_to_dict(stored) == model_to_dict(membership)
    assert stored.updated_at == membership.updated_at is not None


def test_insert_many_refuses_an_unsaved_related_object_as_save_does(org):
    with pytest.raises(ValueError, match="unsaved related object"):
        rows.insert_many([Membership(org=org, user=User(email="x@acme.example"))])


def test_save_receivers_still_run(org):
    seen = []

    def receiver(sender, instance, created, **kwargs):
        seen.append((instance.pk, created))

    post_save.connect(receiver, sender=Membership)
    try:
        with transaction.atomic():
            membership = Membership(org=org, user=User.objects.create(email="r@acme.example"))
            rows.insert_many([membership])
    finally:
        post_save.disconnect(receiver, sender=Membership)
    assert seen == [(membership.pk, True)]


def test_a_stored_instance_is_refused_not_inserted_twice(org, admin):
    with pytest.raises(ValueError, match="new instances"):
        rows.insert_many([admin])
    assert Membership.objects.filter(org=org).count() == 1


def test_without_returning_each_row_is_saved_and_gets_its_pk(org, monkeypatch):
    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)
    members = [
        Membership(org=org, user=User.objects.create(email=f"n{i}@acme.example")) for i in range(2)
    ]
    rows.insert_many(members)
    assert all(m.pk and not m._state.adding for m in members)
    assert set(Membership.objects.filter(org=org).values_list("pk", flat=True)) >= {
        m.pk for m in members
    }


def test_fetch_by_lower_is_the_orm_row_compared_as_the_functional_index_compares(member):
    user = member.user
    ours = rows.fetch_by_lower(User, "email", user.email.upper())
    orm = User.objects.get(email__lower=user.email.lower())
    assert columns(ours) == columns(orm)
    assert ours.date_joined.tzinfo is not None  # through the database converters
    assert rows.fetch_by_lower(User, "email", "%") is None
    assert rows.fetch_by_lower(User, "email", "nobody@example.com") is None
