"""Celery tasks of the mapping engine: take ids, call a service, nothing else."""

from celery import shared_task

from scim import services
from scim.choices import SyncTrigger


@shared_task
def mapping_sync_job(job_id: int) -> str:
    return services.mapping_sync_job_run(job_id=job_id).status


@shared_task
def mapping_reconcile_nightly() -> int:
    """Heal drift: a full sync of every organization that has provisioned anyone."""
    return services.mapping_reconcile_all(trigger=SyncTrigger.NIGHTLY)
