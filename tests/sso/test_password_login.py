"""Password sign-in: success and failure are audited; no enumeration; deactivated refused."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from audit.choices import AuditAction
from audit.models import AuditEvent
from identity.models import UserSession
from orgs.services.members import membership_add, membership_deactivate
from tests.conftest import PASSWORD, assert_audited


def login(client, email, password):
    return client.post("/login/", {"email": email, "password": password})


def test_login_succeeds_tracks_session_and_is_audited(client, admin):
    r = login(client, "ADMIN@acme.example", PASSWORD)
    assert r.status_code == 302 and r["Location"] == "/"
    assert client.session[SESSION_KEY] == str(admin.user.pk)
    assert UserSession.objects.filter(user=admin.user).count() == 1
    e = AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED).get()
    assert e.org_id == admin.org.pk and e.actor_label == "admin@acme.example"
    assert e.data == {"method": "password"}


def test_session_cookie_is_secure_httponly_and_lax(client, admin):
    r = login(client, "admin@acme.example", PASSWORD)
    cookie = r.cookies["sessionid"]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"


def test_wrong_password_and_unknown_email_get_the_same_answer(client, admin):
    wrong = login(client, "admin@acme.example", "nope-nope-nope")
    unknown = login(client, "ghost@acme.example", "nope-nope-nope")
    assert wrong.status_code == unknown.status_code == 400
    msg = b"That e-mail and password do not match an active account."
    assert msg in wrong.content and msg in unknown.content
    assert SESSION_KEY not in client.session
    failures = AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).order_by("id")
    # A sign-in attempt is an anonymous actor naming the e-mail it tried, never the user.
    assert [(e.org_id, e.actor_kind, e.actor_id, e.actor_label) for e in failures] == [
        (admin.org_id, "anonymous", "", "admin@acme.example"),
        (None, "anonymous", "", "ghost@acme.example"),
    ]
    assert failures[0].data["reason"] == "wrong e-mail or password"


def test_deactivated_member_cannot_sign_in_with_a_password(client, admin, member):
    membership_deactivate(membership=member, actor=admin.user)
    r = login(client, "member@acme.example", PASSWORD)
    assert r.status_code == 400 and SESSION_KEY not in client.session
    e = assert_audited(AuditAction.LOGIN_FAILED)
    assert e.data["reason"] == "account or every membership is deactivated"


def test_one_time_password_must_be_changed_first(client, org, admin):
    added = membership_add(org=org, email="new@acme.example", actor=admin.user)
    r = login(client, "new@acme.example", added.one_time_password)
    assert r.status_code == 302 and r["Location"].startswith("/account/password/")
    assert client.get("/o/acme/me/")["Location"].startswith("/account/password/")
    r = client.post("/account/password/", {"password1": "short", "password2": "short"})
    assert r.status_code == 400 and b"too short" in r.content
    r = client.post(
        "/account/password/",
        {"password1": "a-much-better-passphrase", "password2": "a-much-better-passphrase"},
    )
    assert r.status_code == 302
    assert client.get("/o/acme/me/").status_code == 200  # still signed in after the change
    assert AuditEvent.objects.filter(action=AuditAction.USER_PASSWORD_SET).exists()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_next_never_leaves_the_site(client, admin, target):
    r = client.post(
        f"/login/?next={target}",
        {"email": "admin@acme.example", "password": PASSWORD, "next": target},
    )
    assert r.status_code == 302 and r["Location"] == "/"


def test_logout_needs_post_with_csrf_and_is_audited(admin):
    c = Client(enforce_csrf_checks=True)
    c.force_login(admin.user)
    assert c.post("/logout/").status_code == 403  # no CSRF token
    assert c.get("/logout/").status_code == 405
    page = c.get("/o/acme/me/")
    token = page.context["csrf_token"]
    assert c.post("/logout/", {"csrfmiddlewaretoken": str(token)}).status_code == 302
    assert SESSION_KEY not in c.session
    assert AuditEvent.objects.filter(action=AuditAction.LOGOUT).count() == 1


def test_forms_require_csrf(admin):
    c = Client(enforce_csrf_checks=True)
    c.force_login(admin.user)
    assert c.post("/o/acme/teams/", {"name": "No token"}).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.TEAM_CREATED).exists()


def test_home_sends_members_to_their_org(client, admin, member):
    c = Client()
    c.force_login(member.user)
    assert c.get("/")["Location"] == "/o/acme/me/"
    c.force_login(admin.user)
    assert c.get("/")["Location"] == "/o/acme/"


def test_password_sign_in_is_throttled_per_email_and_the_limit_reveals_nothing(admin, settings):
    from django.test import Client

    settings.SIGNIN_MAX_FAILURES_PER_EMAIL = 3
    for email in ("admin@acme.example", "nobody@acme.example"):
        client = Client()
        for _ in range(3):
            response = client.post("/login/", {"email": email, "password": "wrong"})
            assert response.status_code == 400
        response = client.post("/login/", {"email": email, "password": PASSWORD})
        assert response.status_code == 429
        assert "Too many failed sign-ins" in response.content.decode()
        assert "_auth_user_id" not in client.session
    throttled = assert_audited("auth.login_failed")
    assert "throttled" in throttled.data["reason"]


def test_a_successful_sign_in_resets_the_email_counter(admin, settings):
    from django.test import Client

    settings.SIGNIN_MAX_FAILURES_PER_EMAIL = 3
    client = Client()
    for _ in range(2):
        client.post("/login/", {"email": "admin@acme.example", "password": "wrong"})
    assert (
        client.post("/login/", {"email": "admin@acme.example", "password": PASSWORD}).status_code
        == 302
    )
    client.logout()
    for _ in range(2):
        client.post("/login/", {"email": "admin@acme.example", "password": "wrong"})
    assert (
        client.post("/login/", {"email": "admin@acme.example", "password": PASSWORD}).status_code
        == 302
    )


def test_password_sign_in_is_throttled_per_ip(admin, make_member, org, settings):
    from django.test import Client

    settings.SIGNIN_MAX_FAILURES_PER_IP = 4
    client = Client()
    for i in range(4):
        client.post("/login/", {"email": f"guess{i}@acme.example", "password": "wrong"})
    response = client.post("/login/", {"email": "admin@acme.example", "password": PASSWORD})
    assert response.status_code == 429
