from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from orgs.commands import OrgCommand
from siem.delivery import deliver, due
from siem.selectors import streams_of


class Command(OrgCommand):
    help = (
        "Deliver the audit streams now (what Celery beat queues every 10 seconds): every due "
        "stream, or every stream of ORG whether or not it is backing off. Prints what each "
        "delivery sent, or the error the destination gave."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("org", nargs="?", help="the organization's slug (default: all due)")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts.get("org"):
            ids = list(
                streams_of(org=self.org(opts["org"]))
                .filter(paused=False)
                .values_list("id", flat=True)
            )
        else:
            ids = due()
        self.emit({"deliveries": [deliver(i) for i in ids]})
