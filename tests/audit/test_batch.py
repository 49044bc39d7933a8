from __future__ import annotations

import pytest
from django.db import transaction

from audit.choices import AuditAction
from audit.models import AuditEvent
from audit.services import audit_batch, audit_record


def test_batched_events_are_written_in_order_in_one_insert(org, django_assert_num_queries):
    with transaction.atomic(), django_assert_num_queries(1), audit_batch():
        for name in ["a", "b", "c"]:
            audit_record(
                action=AuditAction.TEAM_CREATED,
                org=org,
                actor=None,
                target_type="team",
                target_label=name,
            )
    labels = list(
        AuditEvent.objects.filter(action=AuditAction.TEAM_CREATED)
        .order_by("id")
        .values_list("target_label", flat=True)
    )
    assert labels == ["a", "b", "c"]


def test_an_error_in_the_batch_writes_nothing(org):
    before = AuditEvent.objects.count()
    with pytest.raises(ZeroDivisionError), transaction.atomic(), audit_batch():
        audit_record(action=AuditAction.TEAM_CREATED, org=org, actor=None, target_label="x")
        1 / 0  # noqa: B018
    assert AuditEvent.objects.count() == before


def test_a_nested_batch_joins_the_outer_one(org, django_assert_num_queries):
    with transaction.atomic(), django_assert_num_queries(1), audit_batch():
        audit_record(action=AuditAction.TEAM_CREATED, org=org, actor=None, target_label="1")
        with audit_batch():
            audit_record(action=AuditAction.TEAM_CREATED, org=org, actor=None, target_label="2")
    assert AuditEvent.objects.filter(target_label__in=["1", "2"]).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_batch_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside the transaction"), audit_batch():
        pass


def test_a_batch_stores_every_field_as_save_would_and_sets_the_ids(org, admin):
    data = {"new": {"when": "x", "n": 3, "ok": True, "list": ["a", "é"]}, "quote": 'it\'s "q"'}
    with transaction.atomic(), audit_batch():
        batched = [
            audit_record(
                action=AuditAction.TEAM_CREATED,
                org=org,
                actor=admin.user,
                target_type="team",
                target_id=str(i),
                target_label=f"team {i}",
                data=data,
            )
            for i in range(3)
        ]
    with transaction.atomic():
        saved = audit_record(
            action=AuditAction.TEAM_CREATED, org=org, actor=admin.user, target_id="s", data=data
        )
    # id and xact are the database's (the sequence, the inserting transaction: a trigger)
    fields = [
        f.attname for f in AuditEvent._meta.concrete_fields if f.attname not in ("id", "xact")
    ]
    for event in batched:
        assert event.pk is not None and not event._state.adding
        stored = AuditEvent.objects.get(pk=event.pk)
        assert {f: getattr(stored, f) for f in fields} == {f: getattr(event, f) for f in fields}
        assert stored.data == saved.data == data and stored.occurred_at.tzinfo is not None
    assert [e.pk for e in batched] == sorted(e.pk for e in batched)


def test_a_batch_larger_than_one_statement_allows_is_written_whole(org):
    # 3,000 events x 12 columns is more variables than SQLite takes in one statement.
    with transaction.atomic(), audit_batch():
        events = [
            audit_record(action=AuditAction.TEAM_CREATED, org=org, actor=None, target_id=str(i))
            for i in range(3000)
        ]
    assert len({e.pk for e in events}) == 3000
    stored = dict(
        AuditEvent.objects.filter(pk__in=[e.pk for e in events]).values_list("pk", "target_id")
    )
    assert stored == {e.pk: e.target_id for e in events}
