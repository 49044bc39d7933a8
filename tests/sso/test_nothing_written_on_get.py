"""Nothing is written on GET: the SSO connection (and its SP signing key pair) is made by the
first POST an admin sends, never by an anonymous metadata request or by opening the page."""

from __future__ import annotations

from audit.models import AuditEvent
from sso.models import SsoConnection
from tests.conftest import assert_audited


def test_sp_metadata_before_setup_is_404_and_writes_nothing(client, org):
    before = AuditEvent.objects.count()
    response = client.get("/sso/saml/acme/metadata/")
    assert response.status_code == 404
    assert not SsoConnection.objects.exists()
    assert AuditEvent.objects.count() == before


def test_opening_the_sso_page_writes_nothing(admin_client, org):
    before = AuditEvent.objects.count()
    page = admin_client.get("/o/acme/settings/sso/").content.decode()
    assert 'id="sso-start"' in page and 'id="sp-metadata-download"' not in page
    assert "http://testserver/sso/saml/acme/acs/" in page  # the values the IdP app needs
    assert not SsoConnection.objects.exists()
    assert AuditEvent.objects.count() == before


def test_starting_saml_setup_makes_the_key_pair_once_and_audits_it(admin_client, org, admin):
    admin_client.post("/o/acme/settings/sso/start/")
    admin_client.post("/o/acme/settings/sso/start/")
    conn = SsoConnection.objects.get(org=org)
    assert conn.sp_certificate.startswith("-----BEGIN CERTIFICATE-----")
    assert not conn.sp_private_key.startswith("-----BEGIN")  # encrypted at rest
    event = assert_audited("sso.config_changed", org=org, actor_label=admin.user.email)
    assert event.data == {"changes": {"sp_certificate": "generated"}}
    assert AuditEvent.objects.filter(action="sso.config_changed").count() == 1
    page = admin_client.get("/o/acme/settings/sso/").content.decode()
    assert 'id="sp-metadata-download"' in page
    metadata = admin_client.get("/sso/saml/acme/metadata/")
    assert metadata.status_code == 200 and b"X509Certificate" in metadata.content


def test_the_first_save_of_any_sso_form_makes_the_connection(admin_client, org):
    admin_client.post("/o/acme/settings/sso/jit/", {"enabled": "on"})
    conn = SsoConnection.objects.get(org=org)
    assert conn.jit_enabled and conn.sp_certificate
