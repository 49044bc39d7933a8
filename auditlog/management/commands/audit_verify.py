from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import CommandParser

from auditlog.services import verification_run
from core.input import parse_instant
from core.management import CommandFailed
from orgs.commands import OrgCommand
from orgs.models import Organization


class Command(OrgCommand):
    help = (
        "Verify the audit trail against its seals: every event's leaf, every seal's root, "
        "signature and link. Prints a JSON report per organization naming the first broken "
        "link; exits 1 when any verification fails. Without ORG: every organization, and the "
        "events of no organization."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("org", nargs="?", help="the organization's slug (default: all)")
        parser.add_argument(
            "--since", help="re-hash only seals made from this ISO date or date-time on"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        since = None
        if opts.get("since"):
            since = parse_instant(opts["since"])
            if since is None:
                raise CommandFailed("--since is an ISO date (2026-11-01) or date-time.")
        orgs: list[Organization | None]
        if opts.get("org"):
            orgs = [self.org(opts["org"])]
        else:
            orgs = [*Organization.objects.order_by("id"), None]
        reports = []
        for org in orgs:
            run = verification_run(org=org, actor=self.actor(), since=since)
            reports.append({"organization": org.slug if org else None, **run.report})
        ok = all(r["ok"] for r in reports)
        self.emit({"ok": ok, "organizations": reports})
        if not ok:
            sys.stdout.flush()
            sys.exit(1)
