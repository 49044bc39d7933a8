from celery import shared_task

from identity.services import sessions_clear_expired as clear


@shared_task
def sessions_clear_expired() -> int:
    return clear()
