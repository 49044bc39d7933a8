from __future__ import annotations

from django.db import models


class ConnectionStatus(models.TextChoices):
    CONNECTED = "connected", "Connected"
    NEEDS_CONSENT = "needs_consent", "Needs re-consent"


BASE_SCOPES = ("openid", "profile", "email", "offline_access")
