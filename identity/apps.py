from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Users, passwords and sessions"

    def ready(self) -> None:
        from django.db.models import CharField
        from django.db.models.functions import Lower

        # `email__lower=...` / `user_name__lower=...` compare LOWER() values, which is what the
        # functional unique indexes hold; `__iexact` (UPPER() on PostgreSQL) would scan.
        CharField.register_lookup(Lower)

        from core import db  # noqa: F401  (Unicode LOWER() on SQLite too)
        from identity import sessions  # noqa: F401  (connects the sign-in stamp)
