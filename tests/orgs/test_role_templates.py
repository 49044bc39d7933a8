"""Built-in role templates: offered when an organization is created and on the Custom roles
page; Org Admin holds every delegable admin capability (an IdP group can map to it)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from orgs import rbac
from orgs.models import CustomRole

pytestmark = pytest.mark.django_db


def test_org_create_offers_the_templates(db):
    out = io.StringIO()
    call_command("org_create", "acme", name="Acme", admin_email="a@acme.example", stdout=out)
    assert json.loads(out.getvalue())["custom_roles"] == ["Builder", "Consumer", "Org Admin"]
    org_admin = CustomRole.objects.get(name="Org Admin")
    assert org_admin.permissions == sorted(
        c.code for c in rbac.CATALOG if c.code.startswith("admin.")
    )
    consumer = CustomRole.objects.get(name="Consumer")
    assert "agents.edit" not in consumer.permissions and "agents.run" in consumer.permissions
    out = io.StringIO()
    call_command(
        "org_create",
        "globex",
        name="Globex",
        admin_email="b@globex.example",
        no_role_templates=True,
        stdout=out,
    )
    assert json.loads(out.getvalue())["custom_roles"] == []


def test_the_roles_page_adds_the_missing_templates_once(admin_client, org):
    r = admin_client.post("/o/acme/roles/templates/", follow=True)
    assert "Added Builder, Consumer, Org Admin" in r.content.decode()
    r = admin_client.post("/o/acme/roles/templates/", follow=True)
    assert "already here" in r.content.decode()
    assert CustomRole.objects.filter(org=org).count() == 3


def test_a_roles_page_lists_who_holds_it_and_why(admin_client, org, member, make_member):
    from orgs.choices import AssignmentSource
    from orgs.services.assignments import _set_one as grant
    from orgs.services.assignments import role_assign

    role = CustomRole.objects.create(
        org=org, name="Builder", name_key="builder", permissions=["agents.run"]
    )
    role_assign(membership=member, role=role, actor=None)
    other = make_member(org, "other@acme.example")
    grant(
        kind="roles",
        membership=other,
        target=role,
        held=True,
        source=AssignmentSource.IDP,
        actor=None,
    )
    html = admin_client.get(f"/o/acme/roles/{role.pk}/").content.decode()
    assert 'id="holders"' in html
    assert (
        "member@acme.example</td><td>Assigned by hand" in html.replace("\n", "")
        or "member@acme.example" in html
    )
    assert AssignmentSource.IDP.label in html and "other@acme.example" in html
