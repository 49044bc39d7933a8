"""The project's URLs: the dashboard (every app's pages under /o/<slug>/, one URL namespace),
sign-in, the REST API, SCIM and health."""

from django.urls import include, path

from auditlog.views import AuditEventView, AuditExportView, AuditLogView, AuditVerifyView
from credentials import views as credentials
from gateway import views as gateway
from governance import views
from mapping import views as mapping
from orgs.views import api_keys, invitations, members, roles, service_keys, teams
from retention import views as retention
from scim.views import ScimSettingsView, ScimTokenRevokeView
from siem import views as streams
from sso.views import settings as sso
from workspace import views as workspace

org_patterns = [
    path("", views.OverviewView.as_view(), name="overview"),
    path("me/", members.MeView.as_view(), name="me"),
    # members
    path("members/", members.MemberListView.as_view(), name="members"),
    path("members/<int:pk>/", members.MemberDetailView.as_view(), name="member_detail"),
    path("members/search/", members.MemberSearchView.as_view(), name="member_search"),
    path("members/<int:pk>/view-as/", members.ViewAsStartView.as_view(), name="view_as"),
    path("view-as/stop/", members.ViewAsStopView.as_view(), name="view_as_stop"),
    path(
        "members/invitations/<int:pk>/revoke/",
        members.InvitationRevokeView.as_view(),
        name="invitation_revoke",
    ),
    path("members/<int:pk>/role/", members.MemberRoleView.as_view(), name="member_role"),
    path(
        "members/<int:pk>/deactivate/",
        members.MemberDeactivateView.as_view(),
        name="member_deactivate",
    ),
    path(
        "members/<int:pk>/reactivate/",
        members.MemberReactivateView.as_view(),
        name="member_reactivate",
    ),
    path(
        "members/<int:pk>/roles/assign/",
        members.MemberCustomRoleView.as_view(held=True),
        name="member_role_assign",
    ),
    path(
        "members/<int:pk>/roles/unassign/",
        members.MemberCustomRoleView.as_view(held=False),
        name="member_role_unassign",
    ),
    path(
        "members/<int:pk>/teams/add/",
        members.MemberTeamView.as_view(held=True),
        name="member_team_add",
    ),
    path(
        "members/<int:pk>/teams/remove/",
        members.MemberTeamView.as_view(held=False),
        name="member_team_remove",
    ),
    # custom roles
    path("roles/", roles.RoleListView.as_view(), name="roles"),
    path("roles/new/", roles.RoleEditView.as_view(), name="role_new"),
    path("roles/templates/", roles.RoleTemplatesView.as_view(), name="role_templates"),
    path("roles/<int:pk>/", roles.RoleEditView.as_view(), name="role_edit"),
    path("roles/<int:pk>/delete/", roles.RoleDeleteView.as_view(), name="role_delete"),
    # teams
    path("teams/", teams.TeamListView.as_view(), name="teams"),
    path("teams/<int:pk>/", teams.TeamDetailView.as_view(), name="team_detail"),
    path("teams/<int:pk>/delete/", teams.TeamDeleteView.as_view(), name="team_delete"),
    path(
        "teams/<int:pk>/members/add/",
        teams.TeamMemberView.as_view(held=True),
        name="team_member_add",
    ),
    path(
        "teams/<int:pk>/members/remove/",
        teams.TeamMemberView.as_view(held=False),
        name="team_member_remove",
    ),
    # API keys
    path("api-keys/", api_keys.ApiKeyView.as_view(), name="api_keys"),
    path("api-keys/<int:pk>/revoke/", api_keys.ApiKeyRevokeView.as_view(), name="api_key_revoke"),
    # audit log
    path("service-keys/", service_keys.ServiceKeyView.as_view(), name="service_keys"),
    path(
        "service-keys/<int:pk>/revoke/",
        service_keys.ServiceKeyRevokeView.as_view(),
        name="service_key_revoke",
    ),
    path("audit/", AuditLogView.as_view(), name="audit_log"),
    path("audit/verify/", AuditVerifyView.as_view(), name="audit_verify"),
    path("audit/<int:pk>/", AuditEventView.as_view(), name="audit_event"),
    path("audit/export/", AuditExportView.as_view(), name="audit_export"),
    path("audit/streams/", streams.AuditStreamsView.as_view(), name="audit_streams"),
    path("audit/streams/<int:pk>/", streams.AuditStreamView.as_view(), name="audit_stream"),
    path(
        "audit/streams/<int:pk>/test/",
        streams.AuditStreamTestView.as_view(),
        name="audit_stream_test",
    ),
    path(
        "audit/streams/<int:pk>/pause/",
        streams.AuditStreamPauseView.as_view(),
        name="audit_stream_pause",
    ),
    path(
        "audit/streams/<int:pk>/resume/",
        streams.AuditStreamResumeView.as_view(),
        name="audit_stream_resume",
    ),
    path(
        "audit/streams/<int:pk>/rotate/",
        streams.AuditStreamRotateView.as_view(),
        name="audit_stream_rotate",
    ),
    path(
        "audit/streams/<int:pk>/delete/",
        streams.AuditStreamDeleteView.as_view(),
        name="audit_stream_delete",
    ),
    # workspace
    path("explain/", workspace.ExplainerView.as_view(), name="explain"),
    path("agents/", workspace.ResourceListView.as_view(kind="agent"), name="agents"),
    path("agents/new/", workspace.ResourceCreateView.as_view(kind="agent"), name="agent_new"),
    path(
        "agents/<int:pk>/edit/",
        workspace.ResourceEditView.as_view(kind="agent"),
        name="agent_edit",
    ),
    path("agents/<int:pk>/run/", workspace.ResourceRunView.as_view(kind="agent"), name="agent_run"),
    path(
        "agents/<int:pk>/delete/",
        workspace.ResourceDeleteView.as_view(kind="agent"),
        name="agent_delete",
    ),
    path(
        "agents/<int:pk>/share/",
        workspace.ResourceShareView.as_view(kind="agent"),
        name="agent_share",
    ),
    path(
        "agents/<int:pk>/",
        workspace.ResourceDetailView.as_view(kind="agent"),
        name="agent_detail",
    ),
    path("workflows/", workspace.ResourceListView.as_view(kind="workflow"), name="workflows"),
    path(
        "workflows/new/",
        workspace.ResourceCreateView.as_view(kind="workflow"),
        name="workflow_new",
    ),
    path(
        "workflows/<int:pk>/edit/",
        workspace.ResourceEditView.as_view(kind="workflow"),
        name="workflow_edit",
    ),
    path(
        "workflows/<int:pk>/run/",
        workspace.ResourceRunView.as_view(kind="workflow"),
        name="workflow_run",
    ),
    path(
        "workflows/<int:pk>/delete/",
        workspace.ResourceDeleteView.as_view(kind="workflow"),
        name="workflow_delete",
    ),
    path(
        "workflows/<int:pk>/share/",
        workspace.ResourceShareView.as_view(kind="workflow"),
        name="workflow_share",
    ),
    path(
        "workflows/<int:pk>/",
        workspace.ResourceDetailView.as_view(kind="workflow"),
        name="workflow_detail",
    ),
    path("integrations/", workspace.IntegrationsView.as_view(), name="integrations"),
    path(
        "integrations/connect/",
        workspace.IntegrationConnectView.as_view(),
        name="integration_connect",
    ),
    path(
        "integrations/<int:pk>/disconnect/",
        workspace.IntegrationDisconnectView.as_view(),
        name="integration_disconnect",
    ),
    path("schedules/", workspace.SchedulesView.as_view(), name="schedules"),
    path("schedules/new/", workspace.ScheduleCreateView.as_view(), name="schedule_new"),
    path(
        "schedules/<int:pk>/toggle/",
        workspace.ScheduleChangeView.as_view(change="toggle"),
        name="schedule_toggle",
    ),
    path(
        "schedules/<int:pk>/delete/",
        workspace.ScheduleChangeView.as_view(change="delete"),
        name="schedule_delete",
    ),
    path("runs/", workspace.RunListView.as_view(), name="runs"),
    path("runs/<int:pk>/", workspace.RunDetailView.as_view(), name="run_detail"),
    # data retention
    path("settings/retention/", retention.RetentionPageView.as_view(), name="retention"),
    path(
        "settings/retention/windows/",
        retention.RetentionWindowsView.as_view(),
        name="retention_windows",
    ),
    path("settings/retention/teams/", retention.RetentionTeamView.as_view(), name="retention_team"),
    path("settings/retention/zdr/", retention.RetentionZdrView.as_view(), name="retention_zdr"),
    path("settings/retention/holds/", retention.HoldPlaceView.as_view(), name="retention_holds"),
    path(
        "settings/retention/holds/<int:pk>/release/",
        retention.HoldReleaseView.as_view(),
        name="retention_hold_release",
    ),
    path("settings/retention/run/", retention.RetentionRunNowView.as_view(), name="retention_run"),
    # Okta OAuth credentials: the organization's (admin.credentials) and each member's own
    path("settings/credentials/", credentials.CredentialsView.as_view(), name="credentials"),
    path(
        "settings/credentials/<int:pk>/",
        credentials.CredentialView.as_view(),
        name="credential",
    ),
    path(
        "settings/credentials/<int:pk>/test/",
        credentials.CredentialTestView.as_view(),
        name="credential_test",
    ),
    path(
        "settings/credentials/<int:pk>/delete/",
        credentials.CredentialDeleteView.as_view(),
        name="credential_delete",
    ),
    path(
        "settings/credentials/<int:pk>/services/",
        credentials.ServiceCreateView.as_view(),
        name="credential_service_create",
    ),
    path(
        "settings/credentials/services/<int:pk>/",
        credentials.ServiceUpdateView.as_view(),
        name="credential_service_update",
    ),
    path(
        "settings/credentials/services/<int:pk>/delete/",
        credentials.ServiceDeleteView.as_view(),
        name="credential_service_delete",
    ),
    path("me/credentials/", credentials.MyCredentialsView.as_view(), name="my_credentials"),
    path(
        "me/credentials/<int:pk>/authenticate/",
        credentials.AuthenticateView.as_view(),
        name="credential_authenticate",
    ),
    path(
        "me/credentials/connections/<int:pk>/disconnect/",
        credentials.DisconnectView.as_view(),
        name="credential_disconnect",
    ),
    # The MCP gateway: its upstream servers and the tool calls it traced
    path("settings/mcp/", gateway.McpServersView.as_view(), name="mcp_servers"),
    path(
        "settings/mcp/<int:pk>/refresh/",
        gateway.McpServerRefreshView.as_view(),
        name="mcp_server_refresh",
    ),
    path(
        "settings/mcp/<int:pk>/delete/",
        gateway.McpServerDeleteView.as_view(),
        name="mcp_server_delete",
    ),
    path("settings/mcp/policy/", gateway.PolicyView.as_view(), name="mcp_policy"),
    path("traces/", gateway.TracesView.as_view(), name="traces"),
    path("usage/", gateway.UsageView.as_view(), name="usage"),
    # SSO
    path("settings/sso/", sso.SsoSettingsView.as_view(), name="sso"),
    path("settings/sso/start/", sso.SsoStartView.as_view(), name="sso_start"),
    path("settings/sso/saml/metadata/", sso.SamlMetadataView.as_view(), name="sso_saml_metadata"),
    path("settings/sso/saml/settings/", sso.SamlSettingsView.as_view(), name="sso_saml_settings"),
    path("settings/sso/oidc/", sso.OidcClientView.as_view(), name="sso_oidc"),
    path("settings/sso/protocol/", sso.ProtocolView.as_view(), name="sso_protocol"),
    path("settings/sso/domains/", sso.DomainsView.as_view(), name="sso_domains"),
    path(
        "settings/sso/domains/<str:domain>/verify/",
        sso.DomainVerifyView.as_view(),
        name="sso_domain_verify",
    ),
    path("settings/sso/jit/", sso.JitView.as_view(), name="sso_jit"),
    path("settings/sso/require/", sso.RequireSsoView.as_view(), name="sso_require"),
    path("settings/sso/test/<str:key>/", sso.SsoTestResultView.as_view(), name="sso_test_result"),
    # SCIM and mapping
    path("settings/scim/", ScimSettingsView.as_view(), name="scim"),
    path(
        "settings/scim/tokens/<int:pk>/revoke/",
        ScimTokenRevokeView.as_view(),
        name="scim_token_revoke",
    ),
    path("settings/scim/mapping/", mapping.MappingPageView.as_view(), name="scim_mapping"),
    path(
        "settings/scim/mapping/preview/",
        mapping.TablePreviewView.as_view(),
        name="scim_mapping_preview",
    ),
    path("settings/scim/mapping/save/", mapping.TableSaveView.as_view(), name="scim_mapping_save"),
    path(
        "settings/scim/mapping/name-based/",
        mapping.NameBasedView.as_view(),
        name="scim_mapping_name_based",
    ),
    path(
        "settings/scim/mapping/use-table/",
        mapping.UseTableView.as_view(),
        name="scim_mapping_use_table",
    ),
    path("settings/scim/mapping/sync/", mapping.SyncNowView.as_view(), name="scim_mapping_sync"),
]

dashboard = (
    [
        path("", views.home, name="home"),
        path("invitations/", invitations.pending_view, name="invitations"),
        path("invitations/<int:pk>/accept/", invitations.accept_view, name="invitation_accept"),
        path("invitations/<str:secret>/", invitations.link_view, name="invitation_link"),
        path("o/<slug:slug>/", include(org_patterns)),
    ],
    "governance",
)

urlpatterns = [
    path("", include(dashboard)),
    path("", include("sso.urls")),
    path(
        "credentials/oauth/callback/",
        credentials.CallbackView.as_view(),
        name="credentials_callback",
    ),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("api/v1/", include("governance.api_urls")),
    path("scim/v2/", include("scim.api.urls")),
    path("api/schema/", views.ApiSchemaView.as_view(), name="api-schema"),
]

handler403 = "governance.views.error_403"
handler404 = "governance.views.error_404"
handler500 = "governance.views.error_500"
