"""Celery tasks of the mapping engine: take ids, call a service, nothing else."""

from celery import shared_task

from mapping.choices import SyncTrigger
from mapping.services import sync


@shared_task
def mapping_sync_job(job_id: int) -> str:
    return sync.mapping_sync_job_run(job_id=job_id).status


@shared_task
def mapping_reconcile_nightly() -> int:
    """Heal drift: a full sync of every organization the IdP provisions members of."""
    return sync.mapping_reconcile_all(trigger=SyncTrigger.NIGHTLY)
