"""A member's connection end to end against the Okta-like server: Authenticate (authorization
code with PKCE and state) from the personal credentials page, tokens stored encrypted, the
runtime's token endpoint (fresh, narrowed, refused), re-consent after invalid_grant, Disconnect
revoking at Okta, and deactivation through every door reaching the tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core import crypto
from credentials import okta as okta_client
from credentials.models import ServiceConnection, TokenRevocation
from tests.conftest import api, assert_audited
from tests.credentials.conftest import connect
from workspace.models import Run

pytestmark = pytest.mark.django_db


@pytest.fixture
def service_key(org, admin):
    from orgs.services.service_keys import service_key_create

    _, secret = service_key_create(org=org, label="runtime", actor=admin.user)
    return secret


@pytest.fixture
def connected(analyst_client, org, snowflake, analyst):
    response = connect(analyst_client, org, snowflake)
    assert response.status_code == 302
    return ServiceConnection.objects.get(membership=analyst, service=snowflake)


def running(org, member, agent=None):
    return Run.objects.create(
        org=org, member=member, resource_name="Nightly report", trigger="api", status="running"
    )


def test_authenticate_stores_encrypted_tokens_with_the_granted_scopes(
    connected, org, analyst_client
):
    assert connected.status == "connected"
    assert "session:role:ANALYST" in connected.scopes and "offline_access" in connected.scopes
    assert connected.access_token and connected.refresh_token
    assert crypto.decrypt(connected.access_token) not in connected.access_token
    assert connected.expires_at > timezone.now()
    event = assert_audited("credential.connected", org=org)
    assert "session:role:ANALYST" in event.data["scopes"]
    page = analyst_client.get(f"/o/{org.slug}/me/credentials/").content.decode()
    assert "connected" in page and "session:role:ANALYST" in page
    assert crypto.decrypt(connected.access_token) not in page


def test_a_member_whose_roles_lack_the_integration_sees_nothing_and_is_refused(
    client, org, member, snowflake
):
    client.force_login(member.user)
    page = client.get(f"/o/{org.slug}/me/credentials/").content.decode()
    assert "Snowflake" not in page
    response = client.post(f"/o/{org.slug}/me/credentials/{snowflake.pk}/authenticate/")
    assert response.status_code == 302 and "/me/credentials/" in response["Location"]
    assert not ServiceConnection.objects.exists()


def test_a_forged_or_replayed_state_connects_nothing(analyst_client, org, snowflake):
    response = analyst_client.get("/credentials/oauth/callback/?code=abc&state=forged")
    assert response.status_code == 302
    assert not ServiceConnection.objects.exists()


def test_the_runtime_gets_a_token_for_a_run_of_the_member(
    client, connected, org, analyst, service_key
):
    run = running(org, analyst)
    body = {"member": analyst.user.email, "service": "Snowflake", "run": run.pk}
    response = api(client, "POST", "/api/v1/credentials/token", service_key, body)
    assert response.status_code == 200, response.content
    got = response.json()
    assert got["access_token"] == crypto.decrypt(connected.access_token)
    assert response["Cache-Control"] == "no-store"
    event = assert_audited("credential.token_issued", org=org)
    assert event.data["run"] == run.pk and got["access_token"] not in str(event.data)


def test_an_expiring_token_is_refreshed_first_and_the_refresh_token_rotates(
    client, connected, org, analyst, service_key, okta
):
    old_refresh = crypto.decrypt(connected.refresh_token)
    ServiceConnection.objects.filter(pk=connected.pk).update(
        expires_at=timezone.now() + timedelta(seconds=30)
    )
    run = running(org, analyst)
    body = {"member": analyst.pk, "service": connected.service_id, "run": run.pk}
    got = api(client, "POST", "/api/v1/credentials/token", service_key, body).json()
    connected.refresh_from_db()
    assert got["access_token"] == crypto.decrypt(connected.access_token)
    assert crypto.decrypt(connected.refresh_token) != old_refresh  # rotated
    assert connected.expires_at > timezone.now() + timedelta(seconds=120)
    assert_audited("credential.refreshed", org=org)


def test_a_narrowed_token_stays_within_what_was_granted(
    client, connected, org, analyst, service_key
):
    run = running(org, analyst)
    body = {"member": analyst.pk, "service": "Snowflake", "run": run.pk}
    narrowed = api(
        client,
        "POST",
        "/api/v1/credentials/token",
        service_key,
        {**body, "scopes": ["session:role:ANALYST"]},
    )
    assert narrowed.status_code == 200 and narrowed.json()["scopes"] == ["session:role:ANALYST"]
    wider = api(
        client,
        "POST",
        "/api/v1/credentials/token",
        service_key,
        {**body, "scopes": ["session:role:ADMIN"]},
    )
    assert wider.status_code == 400 and "not granted" in wider.content.decode()


@pytest.mark.parametrize("why", ["deactivated", "not theirs", "finished", "no permission"])
def test_the_token_endpoint_refuses(client, connected, org, analyst, service_key, why, make_member):
    run = running(org, analyst)
    if why == "deactivated":
        from orgs.services.members import membership_deactivate

        membership_deactivate(membership=analyst, actor=None)
    elif why == "not theirs":
        run = running(org, make_member(org, "other@acme.example"))
    elif why == "finished":
        Run.objects.filter(pk=run.pk).update(status="succeeded")
    else:
        from orgs.models import RoleAssignment

        RoleAssignment.objects.filter(membership=analyst).delete()
    body = {"member": analyst.pk, "service": "Snowflake", "run": run.pk}
    response = api(client, "POST", "/api/v1/credentials/token", service_key, body)
    assert response.status_code in (403, 409), response.content
    assert "access_token" not in response.json()
    if why != "deactivated":
        assert_audited("credential.token_refused", org=org)


def test_reuse_of_a_rotated_refresh_token_kills_the_grant_and_asks_for_re_consent(
    client, connected, org, analyst, service_key, analyst_client
):
    stolen = crypto.decrypt(connected.refresh_token)
    okta_client.refresh(connected.service.credential, stolen)  # someone else used it: rotated
    ServiceConnection.objects.filter(pk=connected.pk).update(expires_at=timezone.now())
    run = running(org, analyst)
    body = {"member": analyst.pk, "service": "Snowflake", "run": run.pk}
    response = api(client, "POST", "/api/v1/credentials/token", service_key, body)
    assert response.status_code == 409 and "authenticate again" in response.content.decode()
    connected.refresh_from_db()
    assert connected.status == "needs_consent" and not connected.refresh_token
    assert_audited("credential.reconsent_needed", org=org)
    page = analyst_client.get(f"/o/{org.slug}/me/credentials/").content.decode()
    assert "needs re-consent" in page


def test_disconnect_revokes_at_okta_and_erases_here(
    analyst_client, connected, org, analyst, django_capture_on_commit_callbacks
):
    refresh = crypto.decrypt(connected.refresh_token)
    with django_capture_on_commit_callbacks(execute=True):
        response = analyst_client.post(
            f"/o/{org.slug}/me/credentials/connections/{connected.pk}/disconnect/"
        )
    assert response.status_code == 302
    assert not ServiceConnection.objects.exists()
    assert not TokenRevocation.objects.exists()  # Okta confirmed both
    assert_audited("credential.disconnected", org=org)
    with pytest.raises(okta_client.OktaError) as refused:
        okta_client.refresh(connected.service.credential, refresh)
    assert refused.value.code == "invalid_grant"


def _assert_revoked(org, member, connection, refresh):
    member.refresh_from_db()
    assert not member.is_active
    assert not ServiceConnection.objects.filter(membership=member).exists()
    receipt = assert_audited("credential.member_revoked", org=org)
    assert receipt.data["connections"][0]["service"] == "Snowflake"
    assert receipt.data["connections"][0]["tokens"] == ["refresh_token", "access_token"]
    assert not TokenRevocation.objects.exists()  # Okta confirmed both
    with pytest.raises(okta_client.OktaError):
        okta_client.refresh(connection.service.credential, refresh)


@pytest.mark.parametrize("door", ["dashboard", "api"])
def test_deactivation_on_the_dashboard_or_the_api_revokes_the_tokens(
    door, connected, org, analyst, admin_client, client, api_key, django_capture_on_commit_callbacks
):
    refresh = crypto.decrypt(connected.refresh_token)
    with django_capture_on_commit_callbacks(execute=True):
        if door == "dashboard":
            response = admin_client.post(f"/o/{org.slug}/members/{analyst.pk}/deactivate/")
        else:
            response = api(client, "POST", f"/api/v1/members/{analyst.pk}/deactivate/", api_key)
    assert response.status_code in (200, 302)
    _assert_revoked(org, analyst, connected, refresh)


def test_deactivation_by_scim_revokes_the_tokens(
    org, admin, snowflake, analyst, django_capture_on_commit_callbacks
):
    from django.test import Client

    from orgs.models import CustomRole, Membership
    from orgs.services.assignments import role_assign
    from scim.services.tokens import scim_token_create
    from tests.scim.conftest import PATCH_URN, Scim, okta_user

    _, secret = scim_token_create(org=org, label="Okta", actor=None)
    scim = Scim(Client(), secret)
    made = scim("POST", "/Users", okta_user("grace@acme.example")).json()
    member = Membership.objects.get(org=org, user__email="grace@acme.example")
    role_assign(membership=member, role=CustomRole.objects.get(org=org, name="Analyst"), actor=None)
    browser = Client()
    browser.force_login(member.user)
    connect(browser, org, snowflake, login="grace")
    connection = ServiceConnection.objects.get(membership=member)
    refresh = crypto.decrypt(connection.refresh_token)
    patch = {"schemas": [PATCH_URN], "Operations": [{"op": "replace", "value": {"active": False}}]}
    with django_capture_on_commit_callbacks(execute=True):
        assert scim("PATCH", f"/Users/{made['id']}", patch).status_code == 200
    _assert_revoked(org, member, connection, refresh)


def test_a_revocation_okta_does_not_answer_is_kept_retried_and_shown(
    connected, org, analyst, admin_client, okta, django_capture_on_commit_callbacks
):
    from credentials.models import OktaCredential
    from credentials.revocations import revoke_due
    from orgs.services.members import membership_deactivate

    OktaCredential.objects.update(revocation_endpoint="http://127.0.0.1:9/revoke")
    with django_capture_on_commit_callbacks(execute=True):
        membership_deactivate(membership=analyst, actor=None)
    pending = list(TokenRevocation.objects.all())
    assert len(pending) == 2 and all(p.attempts == 1 for p in pending)
    assert_audited("credential.revocation_failed", org=org)
    page = admin_client.get(f"/o/{org.slug}/settings/credentials/").content.decode()
    assert "could not be reached" in page
    OktaCredential.objects.update(revocation_endpoint=f"{okta.issuer}/token/revocation")
    TokenRevocation.objects.update(next_attempt_at=timezone.now())
    assert revoke_due() == {"revoked": 2, "failed": 0}
    assert not TokenRevocation.objects.exists()
    assert_audited("credential.revocation_done", org=org)


def test_an_idle_grant_is_refreshed_once_a_day(connected, settings, okta):
    from credentials.tokens import keepalive

    assert keepalive() == {"refreshed": 0, "failed": 0}  # refreshed just now
    old = crypto.decrypt(connected.refresh_token)
    ServiceConnection.objects.filter(pk=connected.pk).update(
        refreshed_at=timezone.now() - timedelta(hours=settings.CREDENTIALS_KEEPALIVE_HOURS + 1)
    )
    before = len(okta.refreshes)
    assert keepalive() == {"refreshed": 1, "failed": 0}
    connected.refresh_from_db()
    assert len(okta.refreshes) == before + 1
    assert crypto.decrypt(connected.refresh_token) != old and connected.status == "connected"


def test_another_organizations_service_key_finds_nothing(
    client, connected, org, analyst, other_org, make_member
):
    from orgs.services.service_keys import service_key_create

    boss = make_member(other_org, "boss@globex.example", "admin")
    _, theirs = service_key_create(org=other_org, label="theirs", actor=boss.user)
    run = running(org, analyst)
    for member in (analyst.pk, analyst.user.email):
        body = {"member": member, "service": "Snowflake", "run": run.pk}
        response = api(client, "POST", "/api/v1/credentials/token", theirs, body)
        assert response.status_code == 404, response.content
        assert "access_token" not in response.content.decode()


def test_deleting_the_service_revokes_its_members_tokens(
    connected, org, admin, django_capture_on_commit_callbacks
):
    from credentials.services import service_delete

    refresh = crypto.decrypt(connected.refresh_token)
    with django_capture_on_commit_callbacks(execute=True):
        service_delete(service=connected.service, actor=admin.user)
    assert not ServiceConnection.objects.exists() and not TokenRevocation.objects.exists()
    assert assert_audited("credential.service_deleted", org=org).data["connections_revoked"] == 1
    with pytest.raises(okta_client.OktaError):
        okta_client.refresh(connected.service.credential, refresh)


def test_the_personal_page_does_not_grow_its_queries_with_the_services(
    analyst_client, org, credential, admin, django_assert_max_num_queries
):
    from credentials.services import ServiceSpec, service_create

    for i, integration in enumerate(["snowflake", "netsuite", "databricks", "jira"] * 3):
        service_create(
            credential=credential,
            actor=admin.user,
            spec=ServiceSpec(name=f"Service {i}", integration=integration),
        )
    with django_assert_max_num_queries(20):
        page = analyst_client.get(f"/o/{org.slug}/me/credentials/").content.decode()
    assert page.count('class="authenticate"') == 3  # the Snowflake ones: the role allows those
