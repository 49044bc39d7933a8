"""An Okta-like authorization server for the whole session, an organization credential at it,
and a service whose integration the member's role allows."""

from __future__ import annotations

from typing import Any

import pytest

from credentials.services import CredentialSpec, ServiceSpec, credential_create, service_create
from tests.credentials.okta_server import SECRET, SERVER_ID, OktaServer
from tests.sso.oidc_op import sign_in_at_provider

REDIRECT_URI = "http://testserver/credentials/oauth/callback/"


@pytest.fixture(scope="session")
def okta():
    server = OktaServer(redirect_uri=REDIRECT_URI)
    yield server
    server.stop()


@pytest.fixture
def loopback(settings):
    settings.SSO_ALLOW_HTTP_ISSUERS = True  # the test server speaks plain HTTP on loopback
    settings.SSO_ALLOW_PRIVATE_ISSUERS = True


def make_credential(org: Any, okta: OktaServer, actor: Any, **overrides: Any) -> Any:
    spec = CredentialSpec(
        name=overrides.pop("name", "Okta production"),
        okta_domain=okta.domain,
        server_id=SERVER_ID,
        client_id=overrides.pop("client_id", "gov-okta"),
        client_secret=overrides.pop("client_secret", SECRET),
    )
    return credential_create(org=org, actor=actor, spec=spec)


@pytest.fixture
def credential(org, admin, okta, loopback):
    return make_credential(org, okta, admin.user)


@pytest.fixture
def snowflake(credential, admin):
    return service_create(
        credential=credential,
        actor=admin.user,
        spec=ServiceSpec(
            name="Snowflake",
            integration="snowflake",
            audience="https://abc12345.snowflakecomputing.com",
            scopes=["session:role:ANALYST"],
        ),
    )


def connect(client: Any, org: Any, service: Any, login: str = "analyst") -> Any:
    """The member's browser: Authenticate, sign in and consent at Okta, back to the callback."""
    response = client.post(f"/o/{org.slug}/me/credentials/{service.pk}/authenticate/")
    assert response.status_code == 302, response.content[:300]
    back = sign_in_at_provider(response["Location"], login)
    assert back.startswith(REDIRECT_URI), back
    return client.get(back.replace("http://testserver", ""))


@pytest.fixture
def analyst(org, make_member, admin):
    """A member whose custom role allows Snowflake (integrations.use.snowflake)."""
    from orgs.services.assignments import role_assign
    from orgs.services.roles import custom_role_create

    role = custom_role_create(
        org=org,
        name="Analyst",
        permissions=["agents.run", "integrations.use.snowflake"],
        actor=None,
    )
    member = make_member(org, "analyst@acme.example")
    role_assign(membership=member, role=role, actor=None)
    return member


@pytest.fixture
def analyst_client(analyst):
    from django.test import Client

    client = Client()
    client.force_login(analyst.user)
    return client
