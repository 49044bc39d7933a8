from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from orgs.commands import OrgCommand
from orgs.selectors import domain_claim_get
from orgs.services.domains import domain_verify, domains_set


class Command(OrgCommand):
    help = (
        "Verify an organization's e-mail domain now by its DNS TXT record (claiming it first "
        "if needed). --skip-dns takes it on the operator's word (the demo; audited as such)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("org")
        parser.add_argument("domain")
        parser.add_argument(
            "--skip-dns",
            action="store_true",
            help="do not look up the TXT record (audited as verified by the operator)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        org = self.org(opts["org"])
        claim = domain_claim_get(org=org, domain=opts["domain"])
        if claim is None:
            current = [c.domain for c in org.domain_claims.all()]
            domains_set(org=org, domains=[*current, opts["domain"]], actor=self.actor())
            claim = domain_claim_get(org=org, domain=opts["domain"])
        claim = domain_verify(claim=claim, actor=self.actor(), skip_dns=opts["skip_dns"])
        self.emit(
            {
                "org": org.slug,
                "domain": claim.domain,
                "status": claim.status,
                "method": claim.verified_method,
                "txt_record": claim.txt_value,
            }
        )
