from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from orgs.commands import OrgCommand
from orgs.services.service_keys import service_key_create


class Command(OrgCommand):
    help = (
        "Create a service key for the organization's agent runtime (POST /api/v1/authorize and "
        "/api/v1/runs/). Prints JSON with the key (shown only once)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("org")
        parser.add_argument("--label", default="")

    def handle(self, *args: Any, **opts: Any) -> None:
        org = self.org(opts["org"])
        key, secret = service_key_create(org=org, label=opts["label"], actor=self.actor())
        self.emit(
            {
                "org": org.slug,
                "key_id": key.pk,
                "prefix": key.prefix,
                "label": key.label,
                "service_key": secret,
            }
        )
