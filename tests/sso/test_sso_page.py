"""The SSO page: metadata upload through the form, and a query count that stays flat."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from orgs.services.domains import domains_set
from sso.models import SsoConnection
from sso.services.config import sso_jit_set
from tests.sso.conftest import sp_metadata
from tests.sso.saml_idp import TestIdp

pytestmark = pytest.mark.django_db


def test_idp_metadata_uploaded_as_a_file_is_trusted(admin_client, org, idp_keys):
    sp = sp_metadata(org)
    idp = TestIdp(sp_metadata=sp, keys=idp_keys)
    upload = SimpleUploadedFile("okta.xml", idp.metadata().encode(), "application/xml")
    response = admin_client.post(
        "/o/acme/settings/sso/saml/metadata/", {"metadata_file": upload}, follow=True
    )
    assert "IdP metadata saved." in response.content.decode()
    conn = SsoConnection.objects.get(org=org)
    assert conn.idp_entity_id == idp.entity_id and len(conn.idp_certificates) == 1
    assert idp.entity_id in response.content.decode()
    assert AuditEvent.objects.filter(action="sso.config_changed", actor_label="admin@acme.example")


def test_attribute_mapping_and_toggles_are_saved_from_the_page(admin_client, org):
    admin_client.post(
        "/o/acme/settings/sso/saml/settings/",
        {
            "attr_email": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
            "attr_first_name": "givenname",
            "attr_last_name": "surname",
            "attr_groups": "",
            "allow_idp_initiated": "on",
        },
    )
    admin_client.post("/o/acme/settings/sso/jit/", {"enabled": "on"})
    admin_client.post("/o/acme/settings/sso/domains/", {"domains": "Acme.example, acme.co.uk"})
    conn = SsoConnection.objects.get(org=org)
    assert conn.attr_email.endswith("/emailaddress") and conn.attr_groups == ""
    assert conn.allow_idp_initiated and conn.jit_enabled
    assert sorted(org.domain_claims.values_list("domain", flat=True)) == [
        "acme.co.uk",
        "acme.example",
    ]


@pytest.mark.parametrize("n", [2, 30])
def test_the_sso_page_query_count_does_not_grow(
    admin_client, org, admin, n, django_assert_max_num_queries
):
    domains_set(org=org, domains=[f"d{i}.example" for i in range(n)], actor=admin.user)
    for i in range(n):
        sso_jit_set(org=org, enabled=i % 2 == 0, actor=admin.user)
    admin_client.get("/o/acme/settings/sso/")  # warm: the connection exists
    # 10 at 2 and at 30 domains and events: session, membership, perms, connection, domains,
    # events, switcher…
    with django_assert_max_num_queries(10):
        assert admin_client.get("/o/acme/settings/sso/").status_code == 200
