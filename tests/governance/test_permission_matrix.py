"""The permission matrix: every dashboard page and every REST API route that answers GET, for
each kind of caller (admin, builder, consumer, a member outside the owning team, a member the
agent is shared with as viewer, another organization's admin, the organization's service key),
with the status it must get. Generated from the tables below; a route in neither table (GET, or
explicitly write-only) fails the coverage test, so a new endpoint cannot be forgotten."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from orgs.services.api_keys import api_key_create
from orgs.services.service_keys import service_key_create
from orgs.services.teams import team_create
from siem.services import Spec, destination_create
from workspace.services.resources import resource_create, share_set
from workspace.services.runs import run_open

pytestmark = pytest.mark.django_db

CALLERS = ["admin", "builder", "consumer", "outsider", "viewer", "other_admin", "service"]
ADMIN_ONLY = {
    "admin": 200,
    "builder": 403,
    "consumer": 403,
    "outsider": 403,
    "viewer": 403,
    "other_admin": 404,
    "service": None,
}
EVERY_MEMBER = {
    "admin": 200,
    "builder": 200,
    "consumer": 200,
    "outsider": 200,
    "viewer": 200,
    "other_admin": 404,
    "service": None,
}
SUPPORT_OBJECT = {
    "admin": 200,
    "builder": 200,
    "consumer": 200,
    "outsider": 404,
    "viewer": 200,
    "other_admin": 404,
    "service": None,
}

# Dashboard pages (GET), by URL name: (path template, expected status per caller).
PAGES = {
    "overview": ("/o/acme/", ADMIN_ONLY),
    "me": ("/o/acme/me/", EVERY_MEMBER),
    "members": ("/o/acme/members/", ADMIN_ONLY),
    "member_detail": ("/o/acme/members/{consumer}/", ADMIN_ONLY),
    "roles": ("/o/acme/roles/", ADMIN_ONLY),
    "role_new": ("/o/acme/roles/new/", ADMIN_ONLY),
    "role_edit": ("/o/acme/roles/{role}/", ADMIN_ONLY),
    "teams": ("/o/acme/teams/", ADMIN_ONLY),
    "team_detail": ("/o/acme/teams/{team}/", ADMIN_ONLY),
    "api_keys": ("/o/acme/api-keys/", EVERY_MEMBER),
    "service_keys": ("/o/acme/service-keys/", ADMIN_ONLY),
    "audit_log": ("/o/acme/audit/", ADMIN_ONLY),
    "audit_event": ("/o/acme/audit/{event}/", ADMIN_ONLY),
    "audit_streams": ("/o/acme/audit/streams/", ADMIN_ONLY),
    "retention": ("/o/acme/settings/retention/", ADMIN_ONLY),
    "credentials": ("/o/acme/settings/credentials/", ADMIN_ONLY),
    "credential": ("/o/acme/settings/credentials/{credential}/", ADMIN_ONLY),
    "my_credentials": ("/o/acme/me/credentials/", EVERY_MEMBER),
    "mcp_servers": ("/o/acme/settings/mcp/", ADMIN_ONLY),
    "traces": ("/o/acme/traces/", ADMIN_ONLY),
    "usage": ("/o/acme/usage/", ADMIN_ONLY),
    "mcp_policy": ("/o/acme/settings/mcp/policy/", ADMIN_ONLY),
    "audit_stream": ("/o/acme/audit/streams/{stream}/", ADMIN_ONLY),
    "explain": ("/o/acme/explain/", EVERY_MEMBER),
    "member_search": ("/o/acme/members/search/?q=co", EVERY_MEMBER),
    "agents": ("/o/acme/agents/", EVERY_MEMBER),
    "agent_detail": ("/o/acme/agents/{agent}/", SUPPORT_OBJECT),
    "workflows": ("/o/acme/workflows/", EVERY_MEMBER),
    "workflow_detail": ("/o/acme/workflows/{workflow}/", {**SUPPORT_OBJECT, "viewer": 404}),
    "integrations": ("/o/acme/integrations/", EVERY_MEMBER),
    "runs": ("/o/acme/runs/", EVERY_MEMBER),
    "schedules": ("/o/acme/schedules/", EVERY_MEMBER),
    "run_detail": ("/o/acme/runs/{run}/", SUPPORT_OBJECT),
    "sso": ("/o/acme/settings/sso/", ADMIN_ONLY),
    "scim": ("/o/acme/settings/scim/", ADMIN_ONLY),
    "scim_mapping": ("/o/acme/settings/scim/mapping/", ADMIN_ONLY),
}
# Pages that only take POST (one URL per action) or are not organization pages.
WRITE_ONLY_PAGES = {
    "view_as",
    "view_as_stop",
    "invitation_revoke",
    "member_role",
    "member_deactivate",
    "member_reactivate",
    "member_role_assign",
    "member_role_unassign",
    "member_team_add",
    "member_team_remove",
    "role_templates",
    "role_delete",
    "team_delete",
    "team_member_add",
    "team_member_remove",
    "api_key_revoke",
    "service_key_revoke",
    "audit_verify",
    "audit_export",
    "audit_stream_test",
    "audit_stream_pause",
    "audit_stream_resume",
    "audit_stream_rotate",
    "audit_stream_delete",
    "retention_windows",
    "retention_team",
    "retention_zdr",
    "retention_holds",
    "retention_hold_release",
    "retention_run",
    "credential_test",
    "credential_delete",
    "credential_service_create",
    "credential_service_update",
    "credential_service_delete",
    "credential_authenticate",
    "credential_disconnect",
    "mcp_server_refresh",
    "mcp_server_delete",
    "integration_connect",
    "integration_disconnect",
    "sso_start",
    "sso_saml_metadata",
    "sso_saml_settings",
    "sso_oidc",
    "sso_protocol",
    "sso_domains",
    "sso_domain_verify",
    "sso_jit",
    "sso_require",
    "scim_token_revoke",
    "scim_mapping_preview",
    "scim_mapping_save",
    "scim_mapping_name_based",
    "scim_mapping_use_table",
    "scim_mapping_sync",
}
# The result page of an SSO test login has a one-time key in its URL: tested in tests/sso.
WRITE_ONLY_PAGES |= {"sso_test_result"}
WRITE_ONLY_PAGES |= {
    "agent_new",
    "agent_edit",
    "agent_share",
    "agent_delete",
    "workflow_delete",
    "workflow_new",
    "workflow_edit",
    "workflow_share",
    "agent_run",
    "workflow_run",
    "schedule_new",
    "schedule_toggle",
    "schedule_delete",
}

API_ADMIN = {
    "admin": 200,
    "builder": 403,
    "consumer": 403,
    "outsider": 403,
    "viewer": 403,
    "other_admin": 404,
    "service": 401,
}
API_ANY = {
    "admin": 200,
    "builder": 200,
    "consumer": 200,
    "outsider": 200,
    "viewer": 200,
    "other_admin": 200,
    "service": 401,
}
API_LIST = {**API_ADMIN, "other_admin": 200}  # another org's admin lists its own (empty) org
API = {
    "me": ("/api/v1/me/", API_ANY),
    "catalog": ("/api/v1/permissions/", API_ANY),
    "member-list": ("/api/v1/members/", API_LIST),
    "member-detail": ("/api/v1/members/{consumer}/", API_ADMIN),
    "invitation-list": ("/api/v1/invitations/", API_LIST),
    "role-list": ("/api/v1/roles/", API_LIST),
    "role-detail": ("/api/v1/roles/{role}/", API_ADMIN),
    "team-list": ("/api/v1/teams/", API_LIST),
    "team-detail": ("/api/v1/teams/{team}/", API_ADMIN),
    "api-key-list": ("/api/v1/api-keys/", API_ANY),
    "service-key-list": ("/api/v1/service-keys/", API_LIST),
    "service-key-detail": ("/api/v1/service-keys/{service_key}/", API_ADMIN),
    "audit-event-list": ("/api/v1/audit-events/", API_LIST),
    "audit-event-catalog": ("/api/v1/audit-events/catalog/", API_LIST),
    "audit-stream-list": ("/api/v1/audit-streams/", API_LIST),
    "retention": ("/api/v1/retention/", API_LIST),
    "retention-hold-list": ("/api/v1/retention/holds/", API_LIST),
    "retention-dry-run": ("/api/v1/retention/dry-run/", API_LIST),
    "retention-runs": ("/api/v1/retention/runs/", API_LIST),
    "credential-list": ("/api/v1/credentials/", API_LIST),
    "mcp-token-list": ("/api/v1/mcp-tokens/", API_ANY),
    "usage": ("/api/v1/usage/", API_LIST),
    "mcp-tool-rule-list": ("/api/v1/mcp/tool-rules/", API_LIST),
    "credential-detail": ("/api/v1/credentials/{credential}/", API_ADMIN),
    "credential-service-list": ("/api/v1/credentials/{credential}/services/", API_ADMIN),
    "credential-service-detail": ("/api/v1/credentials/services/{credential_service}/", API_ADMIN),
    "credential-revocations": ("/api/v1/credentials/revocations/", API_LIST),
    "audit-stream-detail": ("/api/v1/audit-streams/{stream}/", API_ADMIN),
    "explain": ("/api/v1/explain/?action=agent.view&resource=agent:{agent}", API_ANY),
    "run-detail": ("/api/v1/runs/{run}/", {**{c: 401 for c in CALLERS}, "service": 200}),
    "run-list": ("/api/v1/runs/", {**{c: 401 for c in CALLERS}, "service": 200}),
    "run-events": ("/api/v1/runs/{run}/events/", {**{c: 401 for c in CALLERS}, "service": 200}),
    "sso": ("/api/v1/sso/", API_LIST),
    "mapping": ("/api/v1/scim/mapping/", API_LIST),
    "mapping-drift": ("/api/v1/scim/mapping/drift/", API_LIST),
}
WRITE_ONLY_API = {
    "mcp-tool-rule-detail",
    "mcp-policy-preview",
    "invitation-detail",
    "member-deactivate",
    "member-reactivate",
    "member-roles",
    "member-role-detail",
    "team-members",
    "team-member-detail",
    "api-key-detail",
    "authorize",
    "authorize-slash",
    "audit-event-export",
    "audit-stream-pause",
    "retention-windows",
    "retention-team",
    "retention-zdr",
    "retention-hold-release",
    "retention-preview",
    "credential-token",
    "mcp-token-detail",
    "credential-test",
    "audit-stream-resume",
    "audit-stream-test",
    "audit-stream-rotate-secret",
    "run-close",
    "sso-start",
    "sso-protocol",
    "sso-jit",
    "sso-require",
    "sso-domains",
    "sso-domain-verify",
    "sso-saml-metadata",
    "sso-saml-settings",
    "sso-oidc",
    "mapping-sync",
    "mapping-sync-detail",
    "mapping-rows",
    "mapping-mode",
    "mapping-preview",
}


def _names(patterns, out):
    for p in patterns:
        if hasattr(p, "url_patterns"):
            _names(p.url_patterns, out)
        elif p.name:
            out.add(p.name)
    return out


def test_every_route_is_in_the_matrix():
    from governance.urls import org_patterns

    missing_pages = _names(org_patterns, set()) - set(PAGES) - WRITE_ONLY_PAGES
    missing_api = _api_names() - set(API) - WRITE_ONLY_API
    assert not missing_pages and not missing_api, (missing_pages, missing_api)


def _api_names():
    from governance import api_urls

    return _names(api_urls.urlpatterns, set())


@pytest.fixture
def world_ids(world, other_org, make_member, settings):
    w = world
    settings.SIEM_ALLOW_PRIVATE_DESTINATIONS = True
    stream, _ = destination_create(
        org=w["org"],
        actor=None,
        kind="webhook",
        spec=Spec(name="SIEM", endpoint="https://localhost:9/hook"),
    )
    viewer = make_member(w["org"], "viewer@acme.example")
    share_set(obj=w["agent"], level="viewer", member=viewer, actor=None)
    workflow = resource_create(
        org=w["org"],
        kind="workflow",
        fields={
            "name": "Escalate",
            "team": w["support"],
            "steps": [{"integration": "slack", "action": "post"}],
        },
        actor=None,
    )
    run = run_open(
        org=w["org"], member=w["consumer"], resource=w["agent"], trigger="web", actor=None
    )
    other_admin = make_member(other_org, "boss@globex.example", "admin")
    service_key, service = service_key_create(org=w["org"], actor=None)
    keys = {
        name: api_key_create(membership=m, actor=None)[1]
        for name, m in [
            ("admin", w["admin"]),
            ("builder", w["builder"]),
            ("consumer", w["consumer"]),
            ("outsider", w["outsider"]),
            ("viewer", viewer),
            ("other_admin", other_admin),
        ]
    }
    keys["service"] = service
    members = {
        "admin": w["admin"],
        "builder": w["builder"],
        "consumer": w["consumer"],
        "outsider": w["outsider"],
        "viewer": viewer,
        "other_admin": other_admin,
    }
    ids = {
        "consumer": w["consumer"].pk,
        "role": w["agent"].org.custom_roles.first().pk,
        "team": w["support"].pk,
        "agent": w["agent"].pk,
        "workflow": workflow.pk,
        "run": run.pk,
        "service_key": service_key.pk,
        "stream": stream.pk,
        "event": AuditEvent.objects.filter(org_id=w["org"].pk).latest("id").pk,
    }
    from credentials.models import CredentialService, OktaCredential

    credential = OktaCredential.objects.create(  # as saved after its discovery document
        org=w["org"],
        name="Okta",
        okta_domain="acme.okta.com",
        server_id="aus1",
        client_id="client",
        client_secret="",
        issuer="https://acme.okta.com/oauth2/aus1",
        authorization_endpoint="https://acme.okta.com/oauth2/aus1/v1/authorize",
        token_endpoint="https://acme.okta.com/oauth2/aus1/v1/token",
    )
    service = CredentialService.objects.create(
        org=w["org"], credential=credential, name="Snowflake", integration="snowflake"
    )
    ids["credential"] = credential.pk
    ids["credential_service"] = service.pk
    team_create(org=other_org, name="Elsewhere", actor=None)
    return members, keys, ids


@pytest.mark.parametrize("name", sorted(PAGES))
def test_dashboard_page_matrix(world_ids, name):
    members, _, ids = world_ids
    path, expected = PAGES[name]
    for caller, status in expected.items():
        if status is None:
            continue
        client = Client()
        client.force_login(members[caller].user)
        got = client.get(path.format(**ids)).status_code
        assert got == status, f"{name} as {caller}: {got}, expected {status}"


@pytest.mark.parametrize("name", sorted(API))
def test_api_matrix(world_ids, name):
    _, keys, ids = world_ids
    path, expected = API[name]
    for caller, status in expected.items():
        got = (
            Client()
            .get(path.format(**ids), HTTP_AUTHORIZATION=f"Bearer {keys[caller]}")
            .status_code
        )
        assert got == status, f"{name} as {caller}: {got}, expected {status}"
