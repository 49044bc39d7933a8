from django.apps import AppConfig


class MappingConfig(AppConfig):
    name = "mapping"
    verbose_name = "IdP groups and their role and team mapping"

    def ready(self) -> None:
        from core import retention

        retention.table(
            category="system_metadata",
            model="mapping.MappingSyncJob",
            time="created_at",
            org="org_id",
        )
        for model in (
            "IdpUser",
            "IdpUserEmail",
            "IdpGroup",
            "IdpGroupMember",
            "MappingSettings",
            "GroupMapping",
        ):
            retention.exempt(f"mapping.{model}", "what the IdP provisions, kept in step by SCIM")
