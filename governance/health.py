from __future__ import annotations

from django.conf import settings

from governance.celery import app


def broker_check() -> str:
    """'ok', 'embedded' (the filesystem queue under var/ of the single-process run: nothing to
    connect to, and ready whenever the disk is), or 'error: <class name>'."""
    if settings.CELERY_BROKER_IS_EMBEDDED:
        return "embedded"
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"
