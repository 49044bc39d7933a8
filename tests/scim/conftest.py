from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from scim.services.tokens import scim_token_create

SCIM_JSON = "application/scim+json"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
ENT_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Scim:
    """A SCIM client the way Okta and Entra call us: bearer token, application/scim+json."""

    def __init__(self, client: Client, secret: str) -> None:
        self.client, self.secret = client, secret

    def __call__(self, method: str, path: str, body: Any = None, **extra: Any) -> Any:
        kwargs: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {self.secret}", **extra}
        if body is not None:
            kwargs["data"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
            kwargs["content_type"] = SCIM_JSON
        return getattr(self.client, method.lower())(f"/scim/v2{path}", **kwargs)


@pytest.fixture
def scim(org, admin) -> Scim:
    _, secret = scim_token_create(org=org, label="Okta", actor=None)
    return Scim(Client(), secret)


@pytest.fixture
def other_scim(other_org) -> Scim:
    _, secret = scim_token_create(org=other_org, label="Globex IdP", actor=None)
    return Scim(Client(), secret)


def okta_user(user_name: str = "ada@acme.example", **over: Any) -> dict[str, Any]:
    """What Okta POSTs to /Users."""
    body = {
        "schemas": [USER_URN],
        "userName": user_name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": "Ada Lovelace",
        "locale": "en-US",
        "externalId": "00u1abcd",
        "groups": [],
        "password": "Okta-sends-one-1!",
        "active": True,
    }
    body.update(over)
    return body


def assert_scim_error(response: Any, status: int, scim_type: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == SCIM_JSON
    body = response.json()
    assert body["schemas"] == [ERROR_URN] and body["status"] == str(status) and body["detail"]
    if scim_type is not None:
        assert body.get("scimType") == scim_type
    return body
