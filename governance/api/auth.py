"""API key authentication: `Authorization: Bearer gov_<prefix>_<secret>`."""

from __future__ import annotations

import hmac

from django.http import HttpRequest
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from governance.models import ApiKey
from governance.services import API_KEY_PREFIX, api_key_touch, token_hash

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
        if not secret.startswith(API_KEY_PREFIX) or secret.count("_") < 2:
            raise exceptions.AuthenticationFailed(INVALID)
        prefix = secret[len(API_KEY_PREFIX) :].split("_", 1)[0]
        key = (
            ApiKey.objects.select_related("membership__user", "membership__org")
            .filter(prefix=prefix)
            .first()
        )
        # Compare even when the prefix is unknown, so timing does not tell prefixes apart.
        expected = key.key_hash if key is not None else "0" * 64
        if not hmac.compare_digest(expected, token_hash(secret)) or key is None:
            raise exceptions.AuthenticationFailed(INVALID)
        membership = key.membership
        if key.revoked_at is not None or not membership.is_active or not membership.user.is_active:
            raise exceptions.AuthenticationFailed(INVALID)
        api_key_touch(api_key=key)
        return membership.user, key

    def authenticate_header(self, request: HttpRequest) -> str:
        return 'Bearer realm="api"'


class ApiKeySchema(OpenApiAuthenticationExtension):
    target_class = "governance.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An API key: gov_..."}
