from django.urls import path, re_path

from scim.api import discovery, resources

app_name = "scim"
urlpatterns = [
    path("ServiceProviderConfig", discovery.ServiceProviderConfigView.as_view(), name="spc"),
    path("ResourceTypes", discovery.ResourceTypesView.as_view(), name="resource-types"),
    path("ResourceTypes/<str:name>", discovery.ResourceTypesView.as_view(), name="resource-type"),
    path("Schemas", discovery.SchemasView.as_view(), name="schemas"),
    re_path(r"^Schemas/(?P<urn>[^/]+)$", discovery.SchemasView.as_view(), name="schema"),
    path("Bulk", discovery.BulkView.as_view(), name="bulk"),
    path("Me", discovery.MeView.as_view(), name="me"),
    path(".search", resources.RootSearchView.as_view(), name="search"),
    path("Users", resources.UsersView.as_view(), name="users"),
    path("Users/<str:scim_id>", resources.UsersView.as_view(), name="user"),
    path("Groups", resources.GroupsView.as_view(), name="groups"),
    path("Groups/<str:scim_id>", resources.GroupsView.as_view(), name="group"),
]
