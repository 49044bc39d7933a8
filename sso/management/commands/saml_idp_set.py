from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser

from core.management import CommandFailed
from orgs.commands import OrgCommand
from sso import saml_metadata
from sso.services.config import sso_saml_configure


class Command(OrgCommand):
    help = (
        "Trust an organization's SAML IdP from its metadata XML file. Prints JSON with the IdP "
        "entity ID, sign-in URL, trusted certificates and our SP values."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("org")
        parser.add_argument("--metadata", required=True, help="path of the IdP metadata XML")
        parser.add_argument(
            "--keep-previous-certificate",
            action="store_true",
            help="keep trusting the current IdP certificate too (rollover; two at most)",
        )
        parser.add_argument(
            "--base-url",
            default="",
            help="public URL of this deployment, for the SP values printed "
            "(default: GOVERNANCE_PUBLIC_URL)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        org = self.org(opts["org"])
        path = Path(opts["metadata"])
        try:
            xml = path.read_bytes()
        except OSError as exc:
            raise CommandFailed(f"Cannot read {path}: {exc.strerror}.") from exc
        conn = sso_saml_configure(
            org=org,
            metadata_xml=xml,
            keep_previous_certificate=opts["keep_previous_certificate"],
            actor=self.actor(),
        )
        base = opts["base_url"] or settings.PUBLIC_URL or "https://<your-governance-host>"
        urls = saml_metadata.sp_urls(base, org.slug)
        self.emit(
            {
                "org": org.slug,
                "idp_entity_id": conn.idp_entity_id,
                "idp_sso_url": conn.idp_sso_url,
                "idp_certificates": [
                    saml_metadata.certificate_summary(c) for c in conn.idp_certificates
                ],
                "sp": {"entity_id": urls.entity_id, "acs_url": urls.acs, "metadata": urls.metadata},
                "protocol_in_use": conn.protocol or None,
            }
        )
