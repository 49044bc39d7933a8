from celery import shared_task
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from identity.models import UserSession


@shared_task
def sessions_clear_expired() -> int:
    """Housekeeping: drop expired sessions and their tracking rows (not an audited change:
    nothing a person did, and expiry already ended the session)."""
    with transaction.atomic():
        expired = Session.objects.filter(expire_date__lt=timezone.now())
        keys = list(expired.values_list("session_key", flat=True)[:10_000])
        UserSession.objects.filter(session_key__in=keys).delete()
        Session.objects.filter(session_key__in=keys).delete()
    return len(keys)
