from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from core.management import CommandFailed
from orgs.commands import OrgCommand
from orgs.models import Membership
from orgs.services.api_keys import api_key_create


class Command(OrgCommand):
    help = "Create an API key for an active member. Prints JSON with the key (shown only once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("org")
        parser.add_argument("--email", required=True)
        parser.add_argument("--label", default="")

    def handle(self, *args: Any, **opts: Any) -> None:
        org = self.org(opts["org"])
        membership = (
            Membership.objects.filter(org=org, user__email__lower=opts["email"].strip().lower())
            .select_related("user")
            .first()
        )
        if membership is None:
            raise CommandFailed(f"{opts['email']} is not a member of {org.slug}.")
        key, secret = api_key_create(membership=membership, label=opts["label"], actor=self.actor())
        self.emit(
            {
                "org": org.slug,
                "email": membership.user.email,
                "key_id": key.pk,
                "prefix": key.prefix,
                "label": key.label,
                "api_key": secret,
            }
        )
