"""The audit log category: retention purges whole sealed segments only and keeps their seals,
so `audit_verify` still passes after a purge and still catches tampering in what remains; a
forged purge record, a hold or a stream that has not delivered the segment stops it."""

from __future__ import annotations

import base64

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.models import AuditEvent, AuditPurge, AuditSeal
from audit.sealing import seal_all
from audit.services import audit_record
from audit.verification import verify
from retention.engine import enforce
from retention.selection import dry_run
from retention.services import hold_place, policy_set
from siem.services import Spec, destination_create
from tests.audit.test_tamper_evidence import tamper
from tests.conftest import assert_audited

pytestmark = pytest.mark.django_db(transaction=True)


def _events(org, n, action="team.created"):
    for i in range(n):
        with transaction.atomic():
            audit_record(action=action, org=org, actor=None, data={"i": i})


def _expire_now(org):
    """A window of 0 days: every seal made before the run starts has expired."""
    policy_set(org=org, actor=None, windows={"audit_log": 0})
    seal_all()


def test_whole_segments_go_the_seals_stay_and_verification_still_passes(org):
    _events(org, 8)
    seal_all()
    sealed_events = AuditEvent.objects.filter(org_id=org.pk).count()
    _expire_now(org)
    plan = dry_run(org)
    assert plan["categories"]["audit_log"]["rows"] >= sealed_events
    seals_before = AuditSeal.objects.filter(org_key=org.pk).count()
    enforce(org=org)
    receipt = assert_audited("retention.purged", org=org).data
    assert receipt["purged"]["audit_log"]["rows"] == plan["categories"]["audit_log"]["rows"]
    assert AuditSeal.objects.filter(org_key=org.pk).count() == seals_before
    assert AuditPurge.objects.filter(org_key=org.pk).count() == 1
    seal_all()
    report = verify(org.pk)
    assert report["ok"], report["first_broken"]
    assert report["purged_seals"] == seals_before
    # What remains (the receipt itself, newer events) is still checked.
    _events(org, 3, action="access.denied")
    seal_all()
    victim = AuditEvent.objects.filter(org_id=org.pk, action="access.denied").first()
    tamper("UPDATE audit_auditevent SET actor_label = 'x' WHERE id = %s", [victim.pk])
    report = verify(org.pk)
    assert report["first_broken"]["kind"] == "changed_row"
    assert report["first_broken"]["event_id"] == victim.pk


def test_deleting_events_outside_a_purge_is_still_caught(org):
    _events(org, 5)
    seal_all()
    victim = AuditEvent.objects.filter(org_id=org.pk, action="team.created").first()
    if connection.vendor == "postgresql":
        # The declared purge does not open the door to events no purge record covers.
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute("SET LOCAL governance.audit_purge = 'sealed-segments'")
            cur.execute("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk])
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk])
    assert verify(org.pk)["first_broken"]["kind"] == "deleted_row"


def test_a_forged_purge_record_is_named(org):
    _events(org, 4)
    seal_all()
    seal = AuditSeal.objects.filter(org_key=org.pk).order_by("-seq").first()
    AuditPurge.objects.create(
        org_key=org.pk,
        through_seq=seal.seq,
        bound_hi=seal.bound_hi,
        seal_hash=seal.hash,
        events=seal.count,
        purged_at=timezone.now(),
        key_id="0000000000000000",
        signature=base64.b64decode("AAAA"),
    )
    tamper("DELETE FROM audit_auditevent WHERE org_id = %s AND action = 'team.created'", [org.pk])
    report = verify(org.pk)
    assert report["ok"] is False and report["first_broken"]["kind"] == "purge_forged"


def test_an_organization_hold_keeps_the_audit_log(org):
    _events(org, 3)
    hold_place(org=org, actor=None, scope="org", reason="regulator's request")
    _expire_now(org)
    count = AuditEvent.objects.filter(org_id=org.pk).count()
    enforce(org=org)
    assert not AuditPurge.objects.filter(org_key=org.pk).exists()
    assert AuditEvent.objects.filter(org_id=org.pk).count() >= count


def test_segments_a_stream_has_not_delivered_are_kept(org, settings):
    settings.SIEM_ALLOW_PRIVATE_DESTINATIONS = True
    destination_create(
        org=org,
        actor=None,
        kind="webhook",
        start="beginning",
        spec=Spec(name="SIEM", endpoint="https://localhost:9/hook"),
    )
    _events(org, 3)
    _expire_now(org)
    assert dry_run(org)["categories"]["audit_log"]["rows"] == 0
    enforce(org=org)
    assert not AuditPurge.objects.filter(org_key=org.pk).exists()
