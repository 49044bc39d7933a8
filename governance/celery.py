"""Celery app. Broker: Redis in production, a filesystem queue under var/ in the embedded run."""

import os
from datetime import timedelta

from celery import Celery
from celery.schedules import crontab

from core.clock import retention_at

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")

app = Celery("governance")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.beat_schedule = {
    "sessions-clear-expired": {
        "task": "identity.tasks.sessions_clear_expired",
        "schedule": crontab(minute=17, hour="*/6"),
    },
    "audit-seal": {
        "task": "audit.tasks.audit_seal",
        # Twice a minute: no event waits a whole minute for its seal (bench/audit.py: lag).
        "schedule": timedelta(seconds=30),
    },
    "audit-streams": {
        "task": "siem.tasks.audit_streams_due",
        # Streams carry sealed events only: a seal at most 30 s old, delivered within 10 s.
        "schedule": timedelta(seconds=10),
    },
    "retention-enforce": {
        "task": "retention.tasks.retention_enforce",
        "schedule": crontab(hour=retention_at()[0], minute=retention_at()[1]),
    },
    "retention-overdue": {
        "task": "retention.tasks.retention_overdue_check",
        "schedule": crontab(minute=5),
    },
    "audit-verify-all": {
        "task": "auditlog.tasks.audit_verify_all",
        "schedule": crontab(minute=40, hour=3),
    },
    "schedules-fire": {
        "task": "workspace.tasks.schedules_fire",
        "schedule": crontab(),  # every minute
    },
    "domains-recheck": {
        "task": "orgs.tasks.domains_recheck",
        "schedule": crontab(minute=10, hour=4),
    },
    "scim-mapping-reconcile": {
        "task": "mapping.tasks.mapping_reconcile_nightly",
        "schedule": crontab(minute=30, hour=3),
    },
    "credentials-revocations": {
        "task": "credentials.tasks.revocations_due",
        "schedule": crontab(),  # every minute
    },
    "mcp-tools-refresh": {
        "task": "gateway.tasks.mcp_tools_refresh",
        "schedule": crontab(minute="*/10"),
    },
    "mcp-usage-rollup": {
        "task": "gateway.tasks.mcp_usage_rollup",
        "schedule": crontab(minute="*"),
    },
    "credentials-keepalive": {
        "task": "credentials.tasks.connections_keepalive",
        "schedule": crontab(minute=25),  # hourly: each connection once it is a day old
    },
}
