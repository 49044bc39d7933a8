from django.db import models


class Kind(models.TextChoices):
    SYSLOG = "syslog", "Syslog (RFC 5424 over TCP with TLS)"
    WEBHOOK = "webhook", "HTTPS webhook (JSON batches, HMAC-SHA256 signed)"
    HEC = "hec", "Splunk HTTP Event Collector"


class Payload(models.TextChoices):
    JSON = "json", "JSON"
    CEF = "cef", "CEF (ArcSight Common Event Format)"


class Start(models.TextChoices):
    NOW = "now", "Events from now on"
    BEGINNING = "beginning", "The whole trail (backfill)"
