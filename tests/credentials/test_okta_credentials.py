"""Organization credentials against a real Okta-like authorization server (oidc-provider):
saving reads the discovery document; Test proves the client with a client-credentials grant and
says what Okta answered when it fails; the secret is write-only and encrypted at rest."""

from __future__ import annotations

import pytest

from core import crypto
from core.exceptions import ValidationFailed
from credentials.models import OktaCredential
from credentials.services import CredentialSpec, credential_test, credential_update
from tests.conftest import api, assert_audited
from tests.credentials.conftest import make_credential
from tests.credentials.okta_server import SECRET, SERVER_ID

pytestmark = pytest.mark.django_db


def test_saving_reads_the_discovery_document_and_keeps_the_secret_encrypted(
    org, admin, okta, loopback
):
    made = make_credential(org, okta, admin.user)
    assert made.issuer == okta.issuer
    assert made.token_endpoint.startswith(okta.issuer)
    assert made.revocation_endpoint.startswith(okta.issuer)
    assert "session:role:ANALYST" in made.scopes_supported
    stored = OktaCredential.objects.values_list("client_secret", flat=True).get(pk=made.pk)
    assert SECRET not in stored and crypto.decrypt(stored) == SECRET
    event = assert_audited("credential.created", org=org)
    assert SECRET not in str(event.data) and event.data["new"]["client_id"] == "gov-okta"


def test_test_passes_with_the_seeds_setup(org, admin, snowflake):
    ok, message = credential_test(credential=snowflake.credential, actor=admin.user)
    assert ok, message
    assert "session:role:ANALYST" in message
    assert_audited("credential.tested", org=org)


@pytest.mark.parametrize(
    ("client_id", "secret", "expected"),
    [
        (
            "gov-okta",
            "a-wrong-secret-0123456789",
            "Okta refused the client ID or the client secret",
        ),
        ("gov-no-cc", SECRET, "check Client Credentials"),
        ("gov-narrow", SECRET, "does not allow a scope"),
    ],
    ids=["wrong secret", "grant type not enabled", "scope the policy refuses"],
)
def test_test_says_what_okta_answered(org, admin, okta, loopback, client_id, secret, expected):
    from credentials.services import ServiceSpec, service_create

    made = make_credential(org, okta, admin.user, client_id=client_id, client_secret=secret)
    service_create(
        credential=made,
        actor=admin.user,
        spec=ServiceSpec(name="Snowflake", integration="snowflake", scopes="session:role:ANALYST"),
    )
    ok, message = credential_test(credential=made, actor=admin.user)
    assert not ok and expected in message, message
    event = assert_audited("credential.test_failed", org=org)
    assert expected in event.data["result"] and secret not in str(event.data)
    made.refresh_from_db()
    assert made.last_test_ok is False and expected in made.last_test_message


def test_discovery_at_a_private_address_is_refused(org, admin, okta, settings):
    settings.SSO_ALLOW_HTTP_ISSUERS = True
    settings.SSO_ALLOW_PRIVATE_ISSUERS = False  # the default: 127.0.0.1 is not for us to read
    with pytest.raises(ValidationFailed, match=r"private|loopback|not allowed|internal"):
        make_credential(org, okta, admin.user)
    assert not OktaCredential.objects.exists()


def test_a_wrong_server_id_fails_on_save(org, admin, okta, loopback):
    spec = CredentialSpec(
        name="Typo", okta_domain=okta.domain, server_id="aus-typo", client_id="x", client_secret="y"
    )
    from credentials.services import credential_create

    with pytest.raises(ValidationFailed, match="discovery document"):
        credential_create(org=org, actor=admin.user, spec=spec)


def test_an_edit_without_a_secret_keeps_it_and_audits_old_and_new(org, admin, credential):
    credential_update(
        credential=credential,
        actor=admin.user,
        spec=CredentialSpec(
            name="Okta prod",
            okta_domain=credential.okta_domain,
            server_id=SERVER_ID,
            client_id="gov-okta",
            client_secret=None,
        ),
    )
    credential.refresh_from_db()
    assert crypto.decrypt(credential.client_secret) == SECRET and credential.name == "Okta prod"
    event = assert_audited("credential.updated", org=org)
    assert event.data == {"old": {"name": "Okta production"}, "new": {"name": "Okta prod"}}


def test_the_api_never_shows_the_secret_and_is_scoped(
    client, org, api_key, credential, other_org, make_member
):
    body = api(client, "GET", "/api/v1/credentials/", api_key).json()
    assert [c["name"] for c in body["results"]] == ["Okta production"]
    assert "client_secret" not in str(body) and SECRET not in str(body)
    from orgs.choices import RbacRole
    from orgs.services.api_keys import api_key_create

    boss = make_member(other_org, "boss@globex.example", RbacRole.ADMIN)
    _, theirs = api_key_create(membership=boss, actor=None)
    assert api(client, "GET", f"/api/v1/credentials/{credential.pk}/", theirs).status_code == 404
    assert api(client, "DELETE", f"/api/v1/credentials/{credential.pk}/", theirs).status_code == 404
    assert OktaCredential.objects.filter(pk=credential.pk).exists()
