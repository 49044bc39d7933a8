from django.db import models


class Direction(models.TextChoices):
    """The two things IdP groups can grant, each configured on its own."""

    ROLES = "roles", "Custom roles"
    TEAMS = "teams", "Teams"


class SyncTrigger(models.TextChoices):
    TABLE_REPLACED = "table_replaced", "Mapping table replaced"
    MODE_CHANGED = "mode_changed", "Use mapping table flipped"
    MANUAL = "manual", "Run sync now"
    NIGHTLY = "nightly", "Nightly reconciliation"


class SyncStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
