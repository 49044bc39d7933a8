"""A caller's model instances are reused while the row they were built from is unchanged
(gateway.rows._build); the row itself is read on every call, so any change to the token, the
member, their roles or the organization's servers is seen at the next call, and "last used"
is still kept fresh."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from gateway import access, rows
from gateway.models import McpServer, McpToken
from gateway.services import ServerSpec, server_create
from gateway.tokens import mcp_token_create, mcp_token_revoke
from orgs.services.assignments import role_assign, role_unassign
from orgs.services.members import membership_deactivate
from orgs.services.roles import custom_role_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def minted(org, admin, make_member, settings):
    settings.MCP_GATEWAY_URL = "https://gateway.acme.example"
    settings.MCP_ALLOW_PRIVATE_UPSTREAMS = True
    server_create(
        org=org,
        actor=admin.user,
        spec=ServerSpec(
            name="Jira", integration="jira", transport="http", url="https://127.0.0.1:9/mcp"
        ),
    )
    role = custom_role_create(
        org=org, name="Jira users", permissions=["integrations.use.jira"], actor=None
    )
    member = make_member(org, "dev@acme.example")
    role_assign(membership=member, role=role, actor=None)
    token, secret = mcp_token_create(membership=member, actor=None)
    return {"member": member, "role": role, "token": token, "auth": f"Bearer {secret}"}


def _caller(minted):
    return access.authenticate(minted["auth"], "")


def test_an_unchanged_row_reuses_the_instances(minted):
    first = _caller(minted)  # "last used" written: the row changes once
    second, third = _caller(minted), _caller(minted)
    assert first.key is not second.key  # built again after "last used" changed
    assert second.key is third.key and second.membership is third.membership
    assert second.servers[0] is third.servers[0]
    assert third.roles == {minted["role"].pk: ("Jira users", ["integrations.use.jira"])}


def test_every_change_behind_the_caller_is_seen_at_the_next_call(minted, org):
    _caller(minted)
    before = _caller(minted)
    McpServer.objects.filter(org=org).update(name="Jira Cloud")  # a server renamed
    renamed = _caller(minted)
    assert renamed.servers[0] is not before.servers[0]
    assert renamed.servers[0].name == "Jira Cloud"
    role_unassign(membership=minted["member"], role=minted["role"], actor=None)
    assert _caller(minted).roles == {}
    mcp_token_revoke(token=minted["token"], actor=None)
    with pytest.raises(access.Refused, match="revoked"):
        _caller(minted)


def test_a_deactivated_member_is_refused_though_their_instances_were_kept(minted, admin):
    _caller(minted)
    _caller(minted)
    membership_deactivate(membership=minted["member"], actor=admin.user)
    with pytest.raises(access.Refused):
        _caller(minted)


def test_last_used_is_still_refreshed_when_the_instances_are_reused(minted):
    _caller(minted)
    _caller(minted)  # reused from here on
    stale = timezone.now() - timedelta(minutes=5)
    McpToken.objects.filter(pk=minted["token"].pk).update(last_used_at=stale)
    _caller(minted)
    assert McpToken.objects.get(pk=minted["token"].pk).last_used_at > stale + timedelta(minutes=4)


def test_the_kept_instances_are_bounded(minted, monkeypatch):
    monkeypatch.setattr(rows, "BUILT_KEPT", 1)
    monkeypatch.setattr(rows, "_BUILT", {})
    _caller(minted)
    _, secret = mcp_token_create(membership=minted["member"], actor=None)
    access.authenticate(f"Bearer {secret}", "")  # another token: the first one's go
    assert len(rows._BUILT) == 1
