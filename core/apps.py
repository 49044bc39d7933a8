from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The kernel under every app. It has no models; it is an app only to install, at start-up,
    what every door shares (core.api.fields: strict JSON types in the REST API)."""

    name = "core"

    def ready(self) -> None:
        from core.api import fields

        fields.install()
