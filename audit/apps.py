from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "The audit trail: event registry, append-only table, audit_record"
