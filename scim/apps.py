from django.apps import AppConfig


class ScimConfig(AppConfig):
    name = "scim"
    verbose_name = "SCIM 2.0 provisioning"

    def ready(self) -> None:
        from django.db.models import CharField
        from django.db.models.functions import Lower

        # `user_name__lower=...` compares LOWER() values, which the functional indexes serve.
        CharField.register_lookup(Lower)
