from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "sso"
    verbose_name = "Sign-in: e-mail-first routing, passwords, SAML 2.0 and OIDC"

    def ready(self) -> None:
        from sso import signals  # noqa: F401  (sign-in events have no service to hook)
