from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from orgs.commands import OrgCommand
from scim.services.tokens import scim_token_create


class Command(OrgCommand):
    help = "Create a SCIM bearer token for an organization. Prints JSON with the token (once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("org")
        parser.add_argument("--label", default="")

    def handle(self, *args: Any, **opts: Any) -> None:
        org = self.org(opts["org"])
        token, secret = scim_token_create(org=org, label=opts["label"], actor=self.actor())
        self.emit(
            {
                "org": org.slug,
                "token_id": token.pk,
                "prefix": token.prefix,
                "label": token.label,
                "token": secret,
            }
        )
