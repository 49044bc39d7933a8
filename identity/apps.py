from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Identity and sign-in"

    def ready(self) -> None:
        from django.db.models import CharField
        from django.db.models.functions import Lower

        from identity import signals  # noqa: F401  (sign-in events have no service to hook)

        # `email__lower=...` / `user_name__lower=...` compare LOWER() values, which is what the
        # functional unique indexes hold; `__iexact` (UPPER() on PostgreSQL) would scan.
        CharField.register_lookup(Lower)
