from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "The audit trail: event registry, append-only table, audit_record"

    def ready(self) -> None:
        from core import retention

        retention.category(
            key="audit_log",
            label="Audit log",
            default_days=365,
            per_team=False,
            description="Every audit event; purged by whole sealed segments, keeping the seals.",
        )
        retention.table(
            category="audit_log",
            model="audit.AuditEvent",
            time="occurred_at",
            org="org_id",
            size="actor_label",
            enforced=False,
        )
        for model, why in (
            ("AuditSeal", "the proof of the trail: kept after its events are purged"),
            ("AuditSealCursor", "the sealer's position"),
            ("AuditVerification", "the record of each verification: part of the proof"),
            ("AuditPurge", "the signed record of each purge: part of the proof"),
        ):
            retention.exempt(f"audit.{model}", why)
