from __future__ import annotations

import pytest

from audit.models import AuditEvent
from core.exceptions import LastAdminError
from orgs.choices import RbacRole
from orgs.services.members import membership_change_role, membership_deactivate


def test_last_active_admin_cannot_be_demoted(admin):
    before = AuditEvent.objects.count()
    with pytest.raises(LastAdminError, match="last active admin"):
        membership_change_role(membership=admin, role=RbacRole.MEMBER, actor=admin.user)
    admin.refresh_from_db()
    assert admin.role == RbacRole.ADMIN and AuditEvent.objects.count() == before


def test_last_active_admin_cannot_be_deactivated(admin):
    with pytest.raises(LastAdminError):
        membership_deactivate(membership=admin, actor=admin.user)
    admin.refresh_from_db()
    assert admin.is_active


def test_deactivated_admins_do_not_count(org, admin, make_member):
    second = make_member(org, "second@acme.example", RbacRole.ADMIN)
    membership_deactivate(membership=second, actor=admin.user)
    with pytest.raises(LastAdminError):
        membership_change_role(membership=admin, role=RbacRole.MEMBER, actor=admin.user)


def test_an_admin_can_step_down_when_another_remains(org, admin, make_member):
    make_member(org, "second@acme.example", RbacRole.ADMIN)
    membership_change_role(membership=admin, role=RbacRole.MEMBER, actor=admin.user)
    admin.refresh_from_db()
    assert admin.role == RbacRole.MEMBER


def test_last_admin_page_shows_a_clear_error(admin_client, admin):
    r = admin_client.post(f"/o/acme/members/{admin.pk}/deactivate/", {}, follow=True)
    assert r.status_code == 200
    assert b"last active admin" in r.content
    admin.refresh_from_db()
    assert admin.is_active
