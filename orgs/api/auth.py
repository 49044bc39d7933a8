"""API key authentication: `Authorization: Bearer gov_<prefix>_<secret>`."""

from __future__ import annotations

from django.http import HttpRequest
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from core import tokens
from orgs import selectors
from orgs.models import ApiKey, ServiceKey
from orgs.services.api_keys import API_KEY_PREFIX
from orgs.services.service_keys import SERVICE_KEY_PREFIX

INVALID = "Invalid or revoked API key. Create a new key on the API keys page of the dashboard."


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: HttpRequest) -> tuple[object, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            raise exceptions.AuthenticationFailed(
                "Send the API key as 'Authorization: Bearer gov_...'."
            )
        key = tokens.lookup(selectors.api_key_by_prefix, API_KEY_PREFIX, secret)
        if key is None:
            raise exceptions.AuthenticationFailed(INVALID)
        membership = key.membership
        if key.revoked_at is not None or not membership.is_active or not membership.user.is_active:
            raise exceptions.AuthenticationFailed(INVALID)
        tokens.touch_last_used(key)
        return membership.user, key

    def authenticate_header(self, request: HttpRequest) -> str:
        return 'Bearer realm="api"'


class ApiKeySchema(OpenApiAuthenticationExtension):
    target_class = "orgs.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An API key: gov_..."}


class ServicePrincipal:
    """request.user for a service key: authenticated, and nobody in particular."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key: ServiceKey) -> None:
        self.key = key


class ServiceKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer gsk_<prefix>_<secret>`: the organization's key for the agent
    runtime. Only the runtime's endpoints accept it."""

    def authenticate(self, request: HttpRequest) -> tuple[object, ServiceKey] | None:
        scheme, _, secret = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret.startswith(SERVICE_KEY_PREFIX):
            return None  # not a service key: another authenticator (or the view) decides
        key = tokens.lookup(selectors.service_key_by_prefix, SERVICE_KEY_PREFIX, secret)
        if key is None or key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("Invalid or revoked service key.")
        tokens.touch_last_used(key)
        return ServicePrincipal(key), key

    def authenticate_header(self, request: HttpRequest) -> str:
        return 'Bearer realm="runtime"'


class ServiceKeySchema(OpenApiAuthenticationExtension):
    target_class = "orgs.api.auth.ServiceKeyAuthentication"
    name = "ServiceKey"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A service key: gsk_..."}
