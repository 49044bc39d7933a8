from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "The project: settings, URLs, Celery, the dashboard shell"
