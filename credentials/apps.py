from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "credentials"
    verbose_name = "Okta OAuth credentials"

    def ready(self) -> None:
        from core import retention
        from core.crypto import encrypted_field

        retention.exempt("credentials.OktaCredential", "a setting")
        retention.exempt("credentials.CredentialService", "a setting")
        retention.exempt(
            "credentials.ServiceConnection",
            "a live grant: erased on disconnect, on re-consent and when the member is deactivated",
        )
        retention.exempt(
            "credentials.TokenRevocation", "deleted as soon as Okta confirms the revocation"
        )
        encrypted_field("credentials.OktaCredential", "client_secret")
        encrypted_field("credentials.ServiceConnection", "access_token")
        encrypted_field("credentials.ServiceConnection", "refresh_token")
        encrypted_field("credentials.TokenRevocation", "token")
