from __future__ import annotations

from typing import Any, NoReturn

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone

from audit.exceptions import AuditImmutableError


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AuditImmutableError("Audit events are append-only; they cannot be updated.")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise AuditImmutableError("Audit events are append-only; they cannot be deleted.")


class AuditEvent(models.Model):
    """Who did what, when, to what, from where. Append-only: the app refuses UPDATE and DELETE,
    and on PostgreSQL a trigger refuses them too. Labels are copies, so the trail stays readable
    after the actor or the target is gone."""

    # The organization by id, not by foreign key: the audit app sits below organizations, and
    # the trail outlives what it names (as the actor and target columns do).
    org_id = models.BigIntegerField(null=True, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    # Names are checked against the registry (audit.choices) by audit_record, not by `choices=`
    # on the column, so that a new event name costs no migration.
    action = models.CharField(max_length=64)
    actor_kind = models.CharField(max_length=16)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=300, blank=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=300, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    # Tamper evidence (audit.ledger): the leaf hash taken at insert, and on PostgreSQL the id of
    # the inserting transaction (set by a trigger), which the sealer orders by: every
    # transaction below the oldest running one has finished, so nothing can still appear there.
    leaf = models.CharField(max_length=64, blank=True)
    xact = models.BigIntegerField(null=True, blank=True, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["org_id", "-id"], name="audit_org_id_desc"),
            models.Index(fields=["org_id", "action", "-id"], name="audit_org_action_id"),
            models.Index(
                fields=["org_id", "actor_kind", "actor_id", "-id"], name="audit_org_actor_id"
            ),
            models.Index(fields=["org_id", "occurred_at"], name="audit_org_time"),
            models.Index(fields=["xact", "id"], name="audit_xact"),
            # An organization's events in sealing order: verification and export walk it.
            models.Index(fields=["org_id", "xact", "id"], name="audit_org_xact"),
            # The audit log's filters (audit.selectors): each answers page 1 and page 10,000
            # from the index, newest first, at any volume.
            models.Index(
                F("org_id"), Lower("actor_label"), F("id").desc(), name="audit_org_actor_label"
            ),
            models.Index(
                fields=["org_id", "target_type", "target_id", "-id"], name="audit_org_target"
            ),
            models.Index(
                F("org_id"), Lower("target_label"), F("id").desc(), name="audit_org_target_label"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label or self.actor_kind}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditImmutableError("Audit events are append-only; they cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditImmutableError("Audit events are append-only; they cannot be deleted.")


class AuditSealQuerySet(models.QuerySet["AuditSeal"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AuditImmutableError("Audit seals are append-only; they cannot be updated.")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise AuditImmutableError("Audit seals are append-only; they cannot be deleted.")


class AuditSeal(models.Model):
    """One organization's events between two sealer passes, folded into a signed Merkle root
    and chained to the organization's previous seal (audit.ledger, audit.sealing). `org_key`
    is the organization's id, or 0 for the events of no organization. Append-only like the
    events."""

    org_key = models.BigIntegerField()
    seq = models.PositiveIntegerField()
    # Sealing-order bounds, lo <= key < hi: the transaction id on PostgreSQL, the event id on
    # SQLite (whose writers are serialized, so ids are assigned in commit order).
    bound_lo = models.BigIntegerField()
    bound_hi = models.BigIntegerField()
    count = models.PositiveIntegerField()
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    root = models.CharField(max_length=64)
    manifest = models.BinaryField()
    manifest_sha256 = models.CharField(max_length=64)
    prev = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, unique=True)
    key_id = models.CharField(max_length=16)
    signature = models.BinaryField()
    sealed_at = models.DateTimeField()

    objects = AuditSealQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org_key", "seq"], name="auditseal_org_seq"),
        ]

    def __str__(self) -> str:
        return f"seal {self.seq} of org {self.org_key}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditImmutableError("Audit seals are append-only; they cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditImmutableError("Audit seals are append-only; they cannot be deleted.")


class AuditPurgeQuerySet(models.QuerySet["AuditPurge"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AuditImmutableError("Audit purge records are append-only.")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise AuditImmutableError("Audit purge records are append-only.")


class AuditPurge(models.Model):
    """Retention's signed word that an organization's seals up to `through_seq` had their events
    purged (audit.purge). Verification still checks those seals' signatures and chain, and
    skips only their events; a purge record not signed by a trusted key is itself a broken
    link, so deleting events behind the retention job's back is still caught."""

    org_key = models.BigIntegerField()
    through_seq = models.PositiveIntegerField()
    bound_hi = models.BigIntegerField()  # the last purged seal's bound: keys below it are gone
    seal_hash = models.CharField(max_length=64)
    events = models.PositiveBigIntegerField()
    purged_at = models.DateTimeField()
    key_id = models.CharField(max_length=16)
    signature = models.BinaryField()

    objects = AuditPurgeQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org_key", "through_seq"], name="auditpurge_org_seq"),
        ]

    def __str__(self) -> str:
        return f"purge of org {self.org_key} through seal {self.through_seq}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditImmutableError("Audit purge records are append-only.")
        super().save(*args, **kwargs)


class AuditSealCursor(models.Model):
    """Where the sealer stopped (one row): every event whose sealing key is below `hi` is in a
    seal."""

    hi = models.BigIntegerField(default=0)
    passes = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"sealed below {self.hi}"


class AuditVerification(models.Model):
    """One verification of an organization's trail: when, by whom, and its report (the first
    broken link, if any)."""

    org_key = models.BigIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(null=True)
    requested_by = models.CharField(max_length=300, blank=True)
    report = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        indexes = [models.Index(fields=["org_key", "-id"], name="auditverify_org_newest")]

    def __str__(self) -> str:
        return f"verification {self.pk} of org {self.org_key}"
