"""SCIM discovery (RFC 7644 §4): ServiceProviderConfig, ResourceTypes, Schemas; and Bulk,
which we do not support."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from scim.api.base import ScimView
from scim.responses import list_response, scim_error, scim_response
from scim.schemas import RESOURCE_SCHEMAS
from scim.urns import (
    ENTERPRISE_URN,
    GROUP_URN,
    RESOURCE_TYPE_URN,
    SCHEMA_URN,
    SERVICE_PROVIDER_CONFIG_URN,
    USER_URN,
)


class ServiceProviderConfigView(ScimView):
    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        return scim_response(
            {
                "schemas": [SERVICE_PROVIDER_CONFIG_URN],
                "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
                "patch": {"supported": True},
                "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
                "filter": {"supported": True, "maxResults": settings.SCIM_MAX_RESULTS},
                "changePassword": {"supported": False},
                "sort": {"supported": False},
                "etag": {"supported": False},
                "authenticationSchemes": settings.SCIM_SERVICE_PROVIDER["AUTHENTICATION_SCHEMES"],
                "meta": {
                    "resourceType": "ServiceProviderConfig",
                    "location": f"{self.base_url()}/ServiceProviderConfig",
                },
            }
        )


def _resource_types(base: str) -> dict[str, dict[str, Any]]:
    def doc(name: str, endpoint: str, schema: str, extensions: list[dict[str, Any]]) -> dict:
        return {
            "schemas": [RESOURCE_TYPE_URN],
            "id": name,
            "name": name,
            "endpoint": endpoint,
            "description": f"{name} resources of this organization",
            "schema": schema,
            "schemaExtensions": extensions,
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/{name}"},
        }

    return {
        "User": doc("User", "/Users", USER_URN, [{"schema": ENTERPRISE_URN, "required": False}]),
        "Group": doc("Group", "/Groups", GROUP_URN, []),
    }


class ResourceTypesView(ScimView):
    http_method_names = ["get"]

    def get(self, request: HttpRequest, name: str | None = None) -> HttpResponse:
        types = _resource_types(self.base_url())
        if name is not None:
            if name not in types:
                return scim_error(404, f"No resource type {name!r}; there are User and Group.")
            return scim_response(types[name])
        docs = list(types.values())
        return scim_response(list_response(docs, total=len(docs), start=1))


class SchemasView(ScimView):
    http_method_names = ["get"]

    def schema_doc(self, urn: str) -> dict[str, Any]:
        return {
            "schemas": [SCHEMA_URN],
            **RESOURCE_SCHEMAS[urn],
            "meta": {"resourceType": "Schema", "location": f"{self.base_url()}/Schemas/{urn}"},
        }

    def get(self, request: HttpRequest, urn: str | None = None) -> HttpResponse:
        if urn is not None:
            if urn not in RESOURCE_SCHEMAS:
                return scim_error(404, f"No schema {urn!r}.")
            return scim_response(self.schema_doc(urn))
        docs = [self.schema_doc(u) for u in sorted(RESOURCE_SCHEMAS)]
        return scim_response(list_response(docs, total=len(docs), start=1))


class BulkView(ScimView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        return scim_error(501, "Bulk operations are not supported (see ServiceProviderConfig).")


class MeView(ScimView):
    """RFC 7644 §3.11: /Me is the resource of the authenticated subject. Our bearer token names an
    organization, not a person, so there is no such resource: 501 for every method."""

    def dispatch_method(self, request: HttpRequest) -> HttpResponse:
        return scim_error(
            501,
            "/Me is not supported: a SCIM token here identifies an organization, not a user. "
            "Use /Users/{id}.",
        )

    get = post = put = patch = delete = dispatch_method


# --- Users ---------------------------------------------------------------------------------
