"""OIDC sign-in against a real provider: the npm package oidc-provider on 127.0.0.1."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client

from audit.models import AuditEvent
from core.exceptions import ValidationFailed
from identity.models import User
from orgs.services.members import membership_add, membership_deactivate
from sso.models import SsoConnection, SsoIdentity
from sso.services.config import sso_jit_set, sso_oidc_configure, sso_protocol_set
from tests.conftest import assert_audited, verified_domains
from tests.sso.oidc_op import SECRET, OidcProvider, sign_in_at_provider

pytestmark = pytest.mark.django_db

ACCOUNTS = {
    "okta-sub-ada": {
        "email": "ada@acme.example",
        "email_verified": True,
        "given_name": "Ada",
        "family_name": "Lovelace",
    },
    "okta-sub-new": {"email": "new.hire@acme.example", "email_verified": True},
    "okta-sub-unverified": {"email": "ada@acme.example", "email_verified": False},
    "okta-sub-other-ada": {"email": "ada@acme.example", "email_verified": True},
}


@pytest.fixture(scope="session")
def provider():
    op = OidcProvider(redirect_uri="http://testserver/sso/oidc/callback/", accounts=ACCOUNTS)
    yield op
    op.stop()


@pytest.fixture
def oidc_org(org, admin, provider, settings):
    settings.SSO_ALLOW_HTTP_ISSUERS = True  # the test provider serves plain HTTP on loopback
    settings.SSO_ALLOW_PRIVATE_ISSUERS = True
    sso_oidc_configure(
        org=org, issuer=provider.issuer, client_id="gov", client_secret=SECRET, actor=admin.user
    )
    verified_domains(org, ["acme.example"])
    sso_protocol_set(org=org, protocol="oidc", actor=admin.user)
    membership_add(org=org, email="ada@acme.example", actor=None)
    return org


def start(client: Client, query: str = "") -> str:
    response = client.get("/sso/oidc/acme/login/" + query)
    assert response.status_code == 302, response.content[:300]
    return response["Location"]


def come_back(client: Client, back: str):
    parts = urlparse(back)
    assert parts.path == "/sso/oidc/callback/", back
    return client.get(f"{parts.path}?{parts.query}")


def sign_in(client: Client, login: str, query: str = ""):
    return come_back(client, sign_in_at_provider(start(client, query), login))


def failure_reason() -> str:
    return assert_audited("sso.login_failed").data["reason"]


def test_oidc_sign_in_links_the_member_and_lands_in_the_dashboard(oidc_org, client):
    response = sign_in(client, "okta-sub-ada", "?next=/o/acme/me/")
    assert response.status_code == 302
    assert response["Location"] == "/o/acme/me/"
    ada = User.objects.get(email="ada@acme.example")
    assert client.session["_auth_user_id"] == str(ada.pk)
    identity = SsoIdentity.objects.get(org=oidc_org, user=ada)
    issuer = SsoConnection.objects.get(org=oidc_org).oidc_issuer
    assert (identity.issuer, identity.subject) == (issuer, "okta-sub-ada")
    event = AuditEvent.objects.get(action="sso.login_succeeded")
    assert event.data["protocol"] == "oidc" and event.data["subject"] == "okta-sub-ada"
    assert client.get("/o/acme/me/").status_code == 200


def test_the_authorization_request_uses_pkce_s256_state_and_nonce(oidc_org, client):
    query = parse_qs(urlparse(start(client)).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == ["http://testserver/sso/oidc/callback/"]
    assert query["client_id"] == ["gov"]
    pending = client.session["oidc_states"][query["state"][0]]
    assert pending["nonce"] == query["nonce"][0]
    assert pending["code_verifier"]


def test_a_wrong_pkce_verifier_is_refused_by_the_provider(oidc_org, client):
    location = start(client)
    state = parse_qs(urlparse(location).query)["state"][0]
    session = client.session
    session["oidc_states"][state]["code_verifier"] = "x" * 64
    session.save()
    response = come_back(client, sign_in_at_provider(location, "okta-sub-ada"))
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    assert "refused the authorization code" in failure_reason()


def test_a_nonce_mismatch_is_refused(oidc_org, client):
    location = start(client)
    state = parse_qs(urlparse(location).query)["state"][0]
    session = client.session
    session["oidc_states"][state]["nonce"] = "not-the-nonce-we-sent"
    session.save()
    response = come_back(client, sign_in_at_provider(location, "okta-sub-ada"))
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    assert "nonce" in failure_reason().lower()


def test_a_state_works_once(oidc_org, client):
    back = sign_in_at_provider(start(client), "okta-sub-ada")
    assert come_back(client, back).status_code == 302
    client.logout()
    replay = come_back(client, back)
    assert replay.status_code == 403
    assert "_auth_user_id" not in client.session
    assert "state" in failure_reason()


def test_a_state_from_another_browser_is_refused(oidc_org, client):
    back = sign_in_at_provider(start(client), "okta-sub-ada")
    other = Client()
    assert come_back(other, back).status_code == 403
    assert "_auth_user_id" not in other.session
    assert "does not match a sign-in started in this browser" in failure_reason()


@pytest.mark.parametrize(
    "client_id, reason",
    [("gov-wrong-iss", "issuer"), ("gov-wrong-aud", "another client")],
    ids=["another issuer", "another audience"],
)
def test_an_id_token_with_a_wrong_claim_is_refused(oidc_org, client, provider, client_id, reason):
    # The provider re-signs these clients' ID tokens with `iss` or `aud` changed.
    sso_oidc_configure(
        org=oidc_org, issuer=provider.issuer, client_id=client_id, client_secret=None, actor=None
    )
    response = sign_in(client, "okta-sub-ada")
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    assert reason in failure_reason()


def test_an_unverified_email_never_links_an_existing_account(oidc_org, client):
    response = sign_in(client, "okta-sub-unverified")
    assert response.status_code == 403
    assert "not verified" in failure_reason()
    assert not SsoIdentity.objects.exists()


def test_a_second_subject_with_the_same_email_cannot_take_over_the_account(oidc_org, client):
    assert sign_in(client, "okta-sub-ada").status_code == 302
    client.logout()
    response = sign_in(client, "okta-sub-other-ada")
    assert response.status_code == 403
    assert "already linked to another subject" in failure_reason()


def test_jit_off_refuses_an_unknown_person_and_jit_on_creates_a_member(oidc_org, client, admin):
    assert sign_in(client, "okta-sub-new").status_code == 403
    assert "just-in-time provisioning is off" in failure_reason()
    assert not User.objects.filter(email="new.hire@acme.example").exists()
    sso_jit_set(org=oidc_org, enabled=True, actor=admin.user)
    assert sign_in(Client(), "okta-sub-new").status_code == 302
    membership = User.objects.get(email="new.hire@acme.example").memberships.get()
    assert (membership.org, membership.role, membership.source, membership.is_active) == (
        oidc_org,
        "member",
        "sso",
        True,
    )
    assert AuditEvent.objects.filter(action="member.added", org_id=oidc_org.pk).exists()


def test_a_deactivated_member_cannot_sign_in_with_oidc(oidc_org, client):
    assert sign_in(client, "okta-sub-ada").status_code == 302
    client.logout()
    ada = User.objects.get(email="ada@acme.example").memberships.get()
    membership_deactivate(membership=ada, actor=None)
    assert sign_in(client, "okta-sub-ada").status_code == 403
    assert "deactivated" in failure_reason()


def test_the_discovery_document_is_read_when_the_issuer_is_saved(org, admin, provider, settings):
    settings.SSO_ALLOW_HTTP_ISSUERS = True
    settings.SSO_ALLOW_PRIVATE_ISSUERS = True
    conn = sso_oidc_configure(
        org=org,
        issuer=provider.issuer + "/",
        client_id="gov",
        client_secret=SECRET,
        actor=admin.user,
    )
    assert conn.oidc_authorization_endpoint.startswith(provider.issuer)
    assert conn.oidc_token_endpoint.startswith(provider.issuer)
    assert conn.oidc_jwks_uri.startswith(provider.issuer)
    assert conn.oidc_client_secret and SECRET not in conn.oidc_client_secret  # encrypted
    event = assert_audited("sso.config_changed")
    assert event.data["changes"]["oidc_client_secret"] == "changed"
    assert SECRET not in str(event.data)


@pytest.mark.parametrize(
    "issuer, message",
    [
        ("http://127.0.0.1:9/", "Could not read the discovery document"),
        ("not a url", "is not a URL"),
    ],
)
def test_a_bad_issuer_is_refused_and_changes_nothing(org, admin, settings, issuer, message):
    settings.SSO_ALLOW_HTTP_ISSUERS = True
    settings.SSO_ALLOW_PRIVATE_ISSUERS = True
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationFailed, match=message):
        sso_oidc_configure(
            org=org, issuer=issuer, client_id="gov", client_secret=SECRET, actor=admin.user
        )
    assert not SsoConnection.objects.filter(org=org).exclude(oidc_issuer="").exists()
    assert AuditEvent.objects.count() == before


def test_an_issuer_that_names_another_issuer_is_refused(org, admin, provider, settings):
    settings.SSO_ALLOW_HTTP_ISSUERS = True
    settings.SSO_ALLOW_PRIVATE_ISSUERS = True
    with pytest.raises(ValidationFailed, match="names the issuer"):
        sso_oidc_configure(
            org=org,
            issuer=provider.issuer + "/.well-known/..",
            client_id="gov",
            client_secret=SECRET,
            actor=admin.user,
        )


def test_plain_http_issuers_are_refused_in_production(org, admin, settings):
    settings.SSO_ALLOW_HTTP_ISSUERS = False
    with pytest.raises(ValidationFailed, match="https://"):
        sso_oidc_configure(
            org=org,
            issuer="http://acme.okta.com",
            client_id="gov",
            client_secret=SECRET,
            actor=admin.user,
        )


def test_oidc_test_connection_shows_the_claims_and_signs_nobody_in(oidc_org, admin_client, admin):
    back = sign_in_at_provider(start(admin_client, "?test=1"), "okta-sub-ada")
    response = come_back(admin_client, back)
    assert response.status_code == 302
    assert "/o/acme/settings/sso/test/" in response["Location"]
    page = admin_client.get(response["Location"])
    text = page.content.decode()
    assert "Succeeded" in text and "okta-sub-ada" in text and "ada@acme.example" in text
    assert "would link to ada@acme.example" in text
    assert admin_client.session["_auth_user_id"] == str(admin.user.pk)  # still the admin
    assert not SsoIdentity.objects.exists()  # a test links nobody
    assert SsoConnection.objects.get(org=oidc_org).oidc_tested_at is not None
    assert AuditEvent.objects.filter(action="sso.test_succeeded", org_id=oidc_org.pk).exists()


@pytest.mark.parametrize(
    "query",
    ["", "?state=nope&code=x", "?error=access_denied", "?state=" + "x" * 5000, "?code=only"],
)
def test_a_garbage_callback_is_refused_without_a_server_error(oidc_org, client, query):
    response = client.get("/sso/oidc/callback/" + query)
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    assert "state" in failure_reason()


def test_the_provider_reporting_an_error_is_explained(oidc_org, client):
    location = start(client)
    state = parse_qs(urlparse(location).query)["state"][0]
    response = client.get(
        f"/sso/oidc/callback/?state={state}&error=access_denied&error_description=User+not+assigned"
    )
    assert response.status_code == 403
    assert "access_denied" in failure_reason() and "User not assigned" in failure_reason()
    assert assert_audited("sso.login_failed").org_id == oidc_org.pk


@pytest.mark.parametrize(
    "issuer",
    [
        "https://127.0.0.1:8443",
        "https://169.254.169.254/latest",
        "https://10.0.0.7",
        "https://[::1]:8443",
        "https://localhost:8443",
    ],
)
def test_an_issuer_on_a_private_or_local_address_is_not_fetched(org, admin, settings, issuer):
    settings.SSO_ALLOW_PRIVATE_ISSUERS = False
    with pytest.raises(ValidationFailed, match="private or local address"):
        sso_oidc_configure(
            org=org, issuer=issuer, client_id="gov", client_secret=SECRET, actor=admin.user
        )
    assert not SsoConnection.objects.filter(org=org).exclude(oidc_issuer="").exists()


def test_sign_in_refuses_a_token_endpoint_that_now_resolves_privately(oidc_org, client, settings):
    # Saved while allowed (the test provider is on loopback); then the guard is back on.
    settings.SSO_ALLOW_PRIVATE_ISSUERS = False
    response = sign_in(client, "okta-sub-ada")
    assert response.status_code == 403
    assert "private or local address" in failure_reason()
