from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from orgs.commands import OrgCommand
from orgs.models import Organization
from retention.engine import enforce
from retention.selection import dry_run


class Command(OrgCommand):
    help = (
        "Enforce the retention windows now (what Celery beat runs daily): delete what expired "
        "and is not held, in batches, resuming a run that was cut off; prints each "
        "organization's receipt. --dry-run prints what it would delete, per category, and "
        "changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", help="one organization's slug (default: every one)")
        parser.add_argument("--dry-run", action="store_true", help="print, delete nothing")

    def handle(self, *args: Any, **opts: Any) -> None:
        org = self.org(opts["org"]) if opts.get("org") else None
        if opts["dry_run"]:
            orgs = [org] if org else list(Organization.objects.order_by("id"))
            self.emit({"dry_run": [dry_run(o) for o in orgs]})
            return
        self.emit(enforce(org=org))
