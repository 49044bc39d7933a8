from django.apps import AppConfig


class ScimConfig(AppConfig):
    name = "scim"
    verbose_name = "SCIM 2.0 provisioning"

    def ready(self) -> None:
        from core import retention

        retention.table(
            category="system_metadata",
            model="scim.ScimRequestError",
            time="at",
            org="org_id",
            size="detail",
        )
        retention.exempt("scim.ScimToken", "a credential, revoked explicitly")
