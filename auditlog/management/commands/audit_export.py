from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.http import QueryDict

from auditlog.services import export_start
from auditlog.views import filters_from
from core.management import CommandFailed
from orgs.commands import OrgCommand


class Command(OrgCommand):
    help = (
        "Write an organization's audit events to stdout as JSON Lines (with the seals that "
        "cover them, for `audit_verify --file`) or CSV, streamed. Filters as on the audit page. "
        "Audited as audit.exported."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("org")
        parser.add_argument("--format", default="jsonl", choices=["jsonl", "csv"])
        parser.add_argument("--actor", default="")
        parser.add_argument("--action", action="append", default=[])
        parser.add_argument("--target", default="")
        parser.add_argument("--outcome", default="")
        parser.add_argument("--since", default="")
        parser.add_argument("--until", default="")

    def handle(self, *args: Any, **opts: Any) -> None:
        org = self.org(opts["org"])
        params = QueryDict(mutable=True)
        for name in ("actor", "target", "outcome", "since", "until"):
            if opts[name]:
                params[name] = opts[name]
        params.setlist("action", opts["action"])
        filters, errors = filters_from(params)
        if errors:
            raise CommandFailed(" ".join(errors))
        lines = export_start(
            org=org, actor=self.actor(), filters=filters, fmt=opts["format"], door="command"
        )
        for line in lines:
            self.stdout.write(line, ending="")
