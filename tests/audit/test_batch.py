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
