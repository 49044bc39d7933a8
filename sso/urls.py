from django.urls import path

from sso.views import oidc, saml, signin

app_name = "sso"
urlpatterns = [
    path("login/", signin.login_view, name="login"),
    path("logout/", signin.logout_view, name="logout"),
    path("account/password/", signin.password_set_view, name="password_set"),
    path("sso/saml/<slug:slug>/metadata/", saml.saml_metadata, name="saml_metadata"),
    path("sso/saml/<slug:slug>/login/", saml.saml_login, name="saml_login"),
    path("sso/saml/<slug:slug>/acs/", saml.saml_acs, name="saml_acs"),
    path("sso/oidc/<slug:slug>/login/", oidc.oidc_login, name="oidc_login"),
    path("sso/oidc/callback/", oidc.oidc_callback, name="oidc_callback"),
]
