from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "sso"
    verbose_name = "Sign-in: e-mail-first routing, passwords, SAML 2.0 and OIDC"

    def ready(self) -> None:
        from core import retention

        retention.exempt("sso.SsoConnection", "a setting")
        retention.exempt("sso.SsoIdentity", "a link between an IdP subject and a user")
        from core.crypto import encrypted_field

        encrypted_field("sso.SsoConnection", "sp_private_key")
        encrypted_field("sso.SsoConnection", "oidc_client_secret")

        from sso import signals  # noqa: F401  (sign-in events have no service to hook)
