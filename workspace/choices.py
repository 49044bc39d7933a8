from django.db import models


class ShareLevel(models.TextChoices):
    """What a share gives, strongest first: each level includes the ones below it."""

    OWNER = "owner", "Owner"
    EDITOR = "editor", "Editor"
    RUNNER = "runner", "Runner"
    VIEWER = "viewer", "Viewer"


# Strength of each level, for comparisons (owner > editor > runner > viewer).
LEVEL_RANK = {ShareLevel.VIEWER: 1, ShareLevel.RUNNER: 2, ShareLevel.EDITOR: 3, ShareLevel.OWNER: 4}

# The django-guardian permission (codename) that stores each share level on an object.
LEVEL_PERMISSION = {level: f"share_{level}" for level in ShareLevel.values}


class ResourceStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    ARCHIVED = "archived", "Archived"


class RunTrigger(models.TextChoices):
    WEB = "web", "Web"
    SLACK = "slack", "Slack"
    SCHEDULE = "schedule", "Schedule"
    API = "api", "API"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    DENIED = "denied", "Denied"


FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


class EventKind(models.TextChoices):
    LOG = "log", "Log line"
    TOOL_CALL = "tool_call", "Tool call"


class PayloadDirection(models.TextChoices):
    INPUT = "input", "Input"
    OUTPUT = "output", "Output"
