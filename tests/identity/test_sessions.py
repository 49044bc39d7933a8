from __future__ import annotations

from datetime import timedelta

from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from identity.models import UserSession
from identity.tasks import sessions_clear_expired


def test_expired_sessions_are_cleared_by_the_beat_task(admin, member):
    fresh, stale = Client(), Client()
    fresh.force_login(admin.user)
    stale.force_login(member.user)
    stale_key = stale.session.session_key
    Session.objects.filter(session_key=stale_key).update(
        expire_date=timezone.now() - timedelta(minutes=1)
    )
    assert sessions_clear_expired.delay().get() == 1
    assert not Session.objects.filter(session_key=stale_key).exists()
    assert not UserSession.objects.filter(session_key=stale_key).exists()
    assert fresh.get("/o/acme/").status_code == 200


def test_org_switcher_links_each_org_to_a_page_the_viewer_may_open(
    org, other_org, admin, make_member
):
    make_member(other_org, "admin@acme.example", password=None)  # a plain member in Globex
    c = Client()
    c.force_login(admin.user)
    html = c.get("/o/acme/").content.decode()
    assert 'value="/o/acme/"' in html and 'value="/o/globex/me/"' in html
    assert c.get("/o/globex/me/").status_code == 200
    assert c.get("/o/globex/members/").status_code == 403
