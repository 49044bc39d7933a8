from django.db import models


class HoldScope(models.TextChoices):
    ORG = "org", "The whole organization"
    TEAM = "team", "A team"
    MEMBER = "member", "A member"
    AGENT = "agent", "An agent"
    WORKFLOW = "workflow", "A workflow"


class RunState(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
