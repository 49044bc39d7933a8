from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from audit.views import AuditLogView
from governance import views
from identity.sso_views import SsoSettingsView, SsoTestResultView
from scim.views import MappingView, ScimSettingsView

org_patterns = [
    path("", views.OverviewView.as_view(), name="overview"),
    path("me/", views.MeView.as_view(), name="me"),
    path("members/", views.MemberListView.as_view(), name="members"),
    path("members/<int:pk>/", views.MemberDetailView.as_view(), name="member_detail"),
    path("roles/", views.RoleListView.as_view(), name="roles"),
    path("roles/new/", views.RoleEditView.as_view(), name="role_new"),
    path("roles/<int:pk>/", views.RoleEditView.as_view(), name="role_edit"),
    path("teams/", views.TeamListView.as_view(), name="teams"),
    path("teams/<int:pk>/", views.TeamDetailView.as_view(), name="team_detail"),
    path("api-keys/", views.ApiKeyView.as_view(), name="api_keys"),
    path("audit/", AuditLogView.as_view(), name="audit_log"),
    path("settings/sso/", SsoSettingsView.as_view(), name="sso"),
    path("settings/sso/test/<str:key>/", SsoTestResultView.as_view(), name="sso_test_result"),
    path("settings/scim/", ScimSettingsView.as_view(), name="scim"),
    path("settings/scim/mapping/", MappingView.as_view(), name="scim_mapping"),
]

dashboard = (
    [path("", views.home, name="home"), path("o/<slug:slug>/", include(org_patterns))],
    "governance",
)

urlpatterns = [
    path("", include(dashboard)),
    path("", include("identity.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("api/v1/", include("governance.api.urls")),
    path("scim/v2/", include("scim.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
]

handler403 = "governance.views.error_403"
handler404 = "governance.views.error_404"
handler500 = "governance.views.error_500"
