from __future__ import annotations

from django.conf import settings


def broker_check() -> str:
    """'ok', 'not configured' (embedded filesystem queue), or the error class name."""
    if settings.CELERY_BROKER_IS_EMBEDDED:
        return "not configured"
    from governance.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"
