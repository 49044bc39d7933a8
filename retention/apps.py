from django.apps import AppConfig


class RetentionConfig(AppConfig):
    name = "retention"
    verbose_name = "Data retention"

    def ready(self) -> None:
        from core import retention

        for model in ("RetentionPolicy", "TeamRetention", "LegalHold", "RetentionRun"):
            retention.exempt(f"retention.{model}", "retention's own settings and progress")
