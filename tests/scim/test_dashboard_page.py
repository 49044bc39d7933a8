from __future__ import annotations

from audit.models import AuditEvent
from scim.models import ScimRequestError, ScimToken
from tests.scim.conftest import Scim, okta_user


def test_admin_creates_a_token_sees_it_once_and_it_works(admin_client, org, client):
    r = admin_client.post("/o/acme/settings/scim/", {"label": "Okta prod"})
    html = r.content.decode()
    assert r.status_code == 200 and 'id="new-scim-token"' in html
    secret = html.split('id="new-scim-token"')[1].split(">", 1)[1].split("<", 1)[0].strip()
    assert 'id="new-scim-token"' not in admin_client.get("/o/acme/settings/scim/").content.decode()
    assert Scim(client, secret)("GET", "/Users").status_code == 200
    token = ScimToken.objects.get(org=org)
    assert token.label == "Okta prod" and token.last_used_at is not None
    assert AuditEvent.objects.filter(action="scim.token_created", actor_kind="user").exists()
    page = admin_client.get("/o/acme/settings/scim/").content.decode()
    assert "http://testserver/scim/v2/" in page and "Okta prod" in page


def test_revoke_and_recent_errors_and_activity(admin_client, org, scim):
    scim("POST", "/Users", okta_user())
    scim("GET", '/Users?filter=nickName eq "x"')
    err = ScimRequestError.objects.get()
    assert err.status == 400 and err.scim_type == "invalidFilter"
    page = admin_client.get("/o/acme/settings/scim/").content.decode()
    assert "invalidFilter" in page and "scim.user_created" in page
    token = ScimToken.objects.get(org=org)
    admin_client.post(f"/o/acme/settings/scim/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert scim("GET", "/Users").status_code == 401


def test_bad_input_on_the_page_never_500(admin_client):
    r = admin_client.post("/o/acme/settings/scim/", {"label": "y" * 200}, follow=True)
    assert r.status_code == 200 and b'class="error"' in r.content
    assert admin_client.post("/o/acme/settings/scim/tokens/x/revoke/").status_code == 404
    assert admin_client.post("/o/acme/settings/scim/tokens/999999/revoke/").status_code == 404


def test_members_cannot_open_it_and_other_orgs_tokens_cannot_be_revoked(
    member_client, admin_client, other_org
):
    assert member_client.get("/o/acme/settings/scim/").status_code == 403
    from scim.services.tokens import scim_token_create

    theirs, _ = scim_token_create(org=other_org, actor=None)
    r = admin_client.post(f"/o/acme/settings/scim/tokens/{theirs.pk}/revoke/")
    assert r.status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
