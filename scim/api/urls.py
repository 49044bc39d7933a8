from django.urls import path, re_path

from scim.api import views

app_name = "scim"
urlpatterns = [
    path("ServiceProviderConfig", views.ServiceProviderConfigView.as_view(), name="spc"),
    path("ResourceTypes", views.ResourceTypesView.as_view(), name="resource-types"),
    path("ResourceTypes/<str:name>", views.ResourceTypesView.as_view(), name="resource-type"),
    path("Schemas", views.SchemasView.as_view(), name="schemas"),
    re_path(r"^Schemas/(?P<urn>[^/]+)$", views.SchemasView.as_view(), name="schema"),
    path("Bulk", views.BulkView.as_view(), name="bulk"),
    path(".search", views.RootSearchView.as_view(), name="search"),
    path("Users", views.UsersView.as_view(), name="users"),
    path("Users/<str:scim_id>", views.UsersView.as_view(), name="user"),
    path("Groups", views.GroupsView.as_view(), name="groups"),
    path("Groups/<str:scim_id>", views.GroupsView.as_view(), name="group"),
]
