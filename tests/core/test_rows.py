"""core.rows: hand-written inserts behave as save() does, and step aside for save()
where a model or a receiver needs it."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.db.models.signals import post_save
from django.forms.models import model_to_dict

from core import rows
from identity.models import User
from orgs.models import Membership


def test_insert_sets_the_pk_defaults_and_auto_now_like_save(org):
    user = User.objects.create(email="ada@acme.example")
    membership = Membership(org=org, user=user, source="scim")
    rows.insert(membership)
    assert membership.pk is not None and not membership._state.adding
    assert membership.updated_at is not None and membership.created_at is not None
    stored = Membership.objects.get(pk=membership.pk)
    assert model_to_dict(stored) == model_to_dict(membership)
    assert stored.updated_at == membership.updated_at


def test_insert_refuses_an_unsaved_related_object_as_save_does(org):
    with pytest.raises(ValueError, match="unsaved related object"):
        rows.insert(Membership(org=org, user=User(email="x@acme.example")))


def test_a_model_that_overrides_save_is_saved_with_it(db):
    user = User(email="pw@acme.example")
    user.set_password("correct horse battery staple")
    assert user._password is not None
    rows.insert(user)
    assert user.pk is not None and user._password is None  # AbstractBaseUser.save ran


def test_save_receivers_still_run(org):
    seen = []

    def receiver(sender, instance, created, **kwargs):
        seen.append((instance.pk, created))

    post_save.connect(receiver, sender=Membership)
    try:
        with transaction.atomic():
            membership = Membership(org=org, user=User.objects.create(email="r@acme.example"))
            rows.insert(membership)
    finally:
        post_save.disconnect(receiver, sender=Membership)
    assert seen == [(membership.pk, True)]


def test_a_stored_instance_is_refused_not_inserted_twice(org, admin):
    with pytest.raises(ValueError, match="new instances"):
        rows.insert(admin)
    assert Membership.objects.filter(org=org).count() == 1
    with pytest.raises(ValueError, match="new instances"):
        rows.insert(admin.user)  # a model with its own save() too


def test_without_returning_each_row_is_saved_and_gets_its_pk(org, monkeypatch):
    from django.db import connection

    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", False)
    members = [
        Membership(org=org, user=User.objects.create(email=f"n{i}@acme.example")) for i in range(2)
    ]
    rows.insert_many(members)
    assert all(m.pk and not m._state.adding for m in members)
    assert set(Membership.objects.filter(org=org).values_list("pk", flat=True)) >= {
        m.pk for m in members
    }
