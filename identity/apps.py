from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Identity and sign-in"

    def ready(self) -> None:
        from identity import signals  # noqa: F401  (sign-in events have no service to hook)
