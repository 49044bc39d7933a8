"""The REST API's URLs (/api/v1/), gathered from every app."""

from django.urls import path

from auditlog.api import AuditCatalogView, AuditEventListView, AuditExportView
from credentials import api as credentials
from gateway import api as gateway
from mapping import api as mapping
from orgs.api import keys, views
from retention import api as retention
from siem import api as streams
from sso import api as sso
from workspace import api as workspace

app_name = "api"
urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    path("permissions/", views.CatalogView.as_view(), name="catalog"),
    path("members/", views.MemberListView.as_view(), name="member-list"),
    path("members/<int:pk>/", views.MemberDetailView.as_view(), name="member-detail"),
    path("invitations/", views.InvitationListView.as_view(), name="invitation-list"),
    path("invitations/<int:pk>/", views.InvitationDetailView.as_view(), name="invitation-detail"),
    path(
        "members/<int:pk>/deactivate/",
        views.MemberStatusView.as_view(active=False),
        name="member-deactivate",
    ),
    path(
        "members/<int:pk>/reactivate/",
        views.MemberStatusView.as_view(active=True),
        name="member-reactivate",
    ),
    path("members/<int:pk>/roles/", views.MemberRolesView.as_view(), name="member-roles"),
    path(
        "members/<int:pk>/roles/<int:role_id>/",
        views.MemberRoleDetailView.as_view(),
        name="member-role-detail",
    ),
    path("roles/", views.RoleListView.as_view(), name="role-list"),
    path("roles/<int:pk>/", views.RoleDetailView.as_view(), name="role-detail"),
    path("teams/", views.TeamListView.as_view(), name="team-list"),
    path("teams/<int:pk>/", views.TeamDetailView.as_view(), name="team-detail"),
    path("teams/<int:pk>/members/", views.TeamMembersView.as_view(), name="team-members"),
    path(
        "teams/<int:pk>/members/<int:member_id>/",
        views.TeamMemberDetailView.as_view(),
        name="team-member-detail",
    ),
    path("api-keys/", keys.ApiKeyListView.as_view(), name="api-key-list"),
    path("api-keys/<int:pk>/", keys.ApiKeyDetailView.as_view(), name="api-key-detail"),
    path("service-keys/", keys.ServiceKeyListView.as_view(), name="service-key-list"),
    path("service-keys/<int:pk>/", keys.ServiceKeyDetailView.as_view(), name="service-key-detail"),
    path("audit-events/", AuditEventListView.as_view(), name="audit-event-list"),
    path("audit-events/catalog/", AuditCatalogView.as_view(), name="audit-event-catalog"),
    path("audit-events/export/", AuditExportView.as_view(), name="audit-event-export"),
    path("mcp-tokens/", gateway.McpTokenListView.as_view(), name="mcp-token-list"),
    path("mcp-tokens/<int:pk>/", gateway.McpTokenDetailView.as_view(), name="mcp-token-detail"),
    path("usage/", gateway.UsageView.as_view(), name="usage"),
    path("mcp/tool-rules/", gateway.ToolRuleListView.as_view(), name="mcp-tool-rule-list"),
    path(
        "mcp/tool-rules/<int:pk>/",
        gateway.ToolRuleDetailView.as_view(),
        name="mcp-tool-rule-detail",
    ),
    path("mcp/policy-preview/", gateway.PolicyPreviewView.as_view(), name="mcp-policy-preview"),
    path("credentials/", credentials.CredentialListView.as_view(), name="credential-list"),
    path("credentials/token", credentials.TokenView.as_view(), name="credential-token"),
    path(
        "credentials/revocations/",
        credentials.RevocationListView.as_view(),
        name="credential-revocations",
    ),
    path(
        "credentials/services/<int:pk>/",
        credentials.ServiceDetailView.as_view(),
        name="credential-service-detail",
    ),
    path(
        "credentials/<int:pk>/",
        credentials.CredentialDetailView.as_view(),
        name="credential-detail",
    ),
    path(
        "credentials/<int:pk>/test/",
        credentials.CredentialTestView.as_view(),
        name="credential-test",
    ),
    path(
        "credentials/<int:pk>/services/",
        credentials.ServiceListView.as_view(),
        name="credential-service-list",
    ),
    path("audit-streams/", streams.AuditStreamListView.as_view(), name="audit-stream-list"),
    path(
        "audit-streams/<int:pk>/",
        streams.AuditStreamDetailView.as_view(),
        name="audit-stream-detail",
    ),
    path(
        "audit-streams/<int:pk>/pause/",
        streams.AuditStreamPauseView.as_view(paused=True),
        name="audit-stream-pause",
    ),
    path(
        "audit-streams/<int:pk>/resume/",
        streams.AuditStreamPauseView.as_view(paused=False),
        name="audit-stream-resume",
    ),
    path(
        "audit-streams/<int:pk>/test/",
        streams.AuditStreamTestView.as_view(),
        name="audit-stream-test",
    ),
    path(
        "audit-streams/<int:pk>/rotate-secret/",
        streams.AuditStreamRotateView.as_view(),
        name="audit-stream-rotate-secret",
    ),
    path("retention/", retention.RetentionView.as_view(), name="retention"),
    path("retention/windows/", retention.RetentionWindowsView.as_view(), name="retention-windows"),
    path(
        "retention/teams/<int:pk>/",
        retention.RetentionTeamView.as_view(),
        name="retention-team",
    ),
    path("retention/zdr/", retention.RetentionZdrView.as_view(), name="retention-zdr"),
    path("retention/holds/", retention.HoldListView.as_view(), name="retention-hold-list"),
    path(
        "retention/holds/<int:pk>/release/",
        retention.HoldReleaseView.as_view(),
        name="retention-hold-release",
    ),
    path("retention/dry-run/", retention.DryRunView.as_view(), name="retention-dry-run"),
    path("retention/preview/", retention.PreviewView.as_view(), name="retention-preview"),
    path("retention/runs/", retention.RunListView.as_view(), name="retention-runs"),
    path("authorize", workspace.AuthorizeView.as_view(), name="authorize"),
    path("authorize/", workspace.AuthorizeSlashView.as_view(), name="authorize-slash"),
    path("explain/", workspace.ExplainView.as_view(), name="explain"),
    path("runs/", workspace.RunListView.as_view(), name="run-list"),
    path("runs/<int:pk>/", workspace.RunDetailView.as_view(), name="run-detail"),
    path("runs/<int:pk>/events/", workspace.RunEventsView.as_view(), name="run-events"),
    path("runs/<int:pk>/close/", workspace.RunCloseView.as_view(), name="run-close"),
    path("sso/", sso.SsoSettingsAPIView.as_view(), name="sso"),
    path("sso/start/", sso.SsoStartAPIView.as_view(), name="sso-start"),
    path("sso/protocol/", sso.SsoProtocolAPIView.as_view(), name="sso-protocol"),
    path("sso/jit/", sso.SsoJitAPIView.as_view(), name="sso-jit"),
    path("sso/require/", sso.SsoRequireAPIView.as_view(), name="sso-require"),
    path("sso/domains/", sso.SsoDomainsAPIView.as_view(), name="sso-domains"),
    path(
        "sso/domains/<str:domain>/verify/",
        sso.SsoDomainVerifyAPIView.as_view(),
        name="sso-domain-verify",
    ),
    path("sso/saml/metadata/", sso.SsoSamlMetadataAPIView.as_view(), name="sso-saml-metadata"),
    path("sso/saml/settings/", sso.SsoSamlSettingsAPIView.as_view(), name="sso-saml-settings"),
    path("sso/oidc/", sso.SsoOidcAPIView.as_view(), name="sso-oidc"),
    path("scim/mapping/", mapping.MappingSettingsView.as_view(), name="mapping"),
    path("scim/mapping/drift/", mapping.MappingDriftView.as_view(), name="mapping-drift"),
    path("scim/mapping/sync/", mapping.MappingSyncView.as_view(), name="mapping-sync"),
    path(
        "scim/mapping/sync/<int:pk>/",
        mapping.MappingSyncDetailView.as_view(),
        name="mapping-sync-detail",
    ),
    path(
        "scim/mapping/<str:direction>/rows/",
        mapping.MappingTableView.as_view(),
        name="mapping-rows",
    ),
    path(
        "scim/mapping/<str:direction>/mode/",
        mapping.MappingModeView.as_view(),
        name="mapping-mode",
    ),
    path(
        "scim/mapping/<str:direction>/preview/",
        mapping.MappingPreviewView.as_view(),
        name="mapping-preview",
    ),
]
