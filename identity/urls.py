from django.urls import path

from identity import sso_views, views

app_name = "identity"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("account/password/", views.password_set_view, name="password_set"),
    path("sso/saml/<slug:slug>/metadata/", sso_views.saml_metadata, name="saml_metadata"),
    path("sso/saml/<slug:slug>/login/", sso_views.saml_login, name="saml_login"),
    path("sso/saml/<slug:slug>/acs/", sso_views.saml_acs, name="saml_acs"),
    path("sso/oidc/<slug:slug>/login/", sso_views.oidc_login, name="oidc_login"),
    path("sso/oidc/callback/", sso_views.oidc_callback, name="oidc_callback"),
]
