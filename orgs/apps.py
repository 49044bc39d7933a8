from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "orgs"
    verbose_name = "Organizations, members, RBAC, teams and API keys"

    def ready(self) -> None:
        from core import retention

        for model in (
            "Organization",
            "Membership",
            "CustomRole",
            "RoleAssignment",
            "Team",
            "TeamMembership",
            "BearerCredential",
            "ApiKey",
            "ServiceKey",
            "Invitation",
            "DomainClaim",
        ):
            retention.exempt(f"orgs.{model}", "who is in the organization and what they may do")
