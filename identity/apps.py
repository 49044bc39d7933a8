from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Users, passwords and sessions"

    def ready(self) -> None:
        from core import retention

        retention.category(
            key="system_metadata",
            label="System metadata",
            default_days=365,
            per_team=False,
            description="Sessions, the SCIM request error log, mapping sync history.",
        )
        # Sessions end with their cookie; identity.tasks.sessions_clear_expired removes them
        # every 6 hours, so the window never has anything left to purge.
        retention.table(
            category="system_metadata",
            model="identity.UserSession",
            time="created_at",
            org="",
            enforced=False,
        )
        retention.exempt("identity.User", "a person's account, removed by deprovisioning")

        from django.db.models import CharField
        from django.db.models.functions import Lower

        # `email__lower=...` / `user_name__lower=...` compare LOWER() values, which is what the
        # functional unique indexes hold; `__iexact` (UPPER() on PostgreSQL) would scan.
        CharField.register_lookup(Lower)

        from core import db  # noqa: F401  (Unicode LOWER() on SQLite too)
        from identity import sessions  # noqa: F401  (connects the sign-in stamp)
