from __future__ import annotations

from typing import Any, NoReturn

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
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

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["org_id", "-id"], name="audit_org_id_desc"),
            models.Index(fields=["org_id", "action", "-id"], name="audit_org_action_id"),
            models.Index(
                fields=["org_id", "actor_kind", "actor_id", "-id"], name="audit_org_actor_id"
            ),
            models.Index(fields=["org_id", "occurred_at"], name="audit_org_time"),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label or self.actor_kind}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditImmutableError("Audit events are append-only; they cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditImmutableError("Audit events are append-only; they cannot be deleted.")
