"""`manage.py mcp_usage_rollup [--all] [--org SLUG]`: recomputes the usage rows of the days whose
traces changed (what the beat does every minute); --all first marks every day that has traces
(a backfill, or after restoring traces)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Recompute the MCP gateway's daily usage rows from the traces."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="every day that has traces")
        parser.add_argument("--org", default=None, help="with --all: only this organization")

    def handle(self, *args: Any, **opts: Any) -> None:
        from gateway.usage import mark_all, rollup
        from orgs.models import Organization

        marked = 0
        if opts["all"]:
            org_id = None
            if opts["org"]:
                org = Organization.objects.filter(slug=opts["org"]).first()
                if org is None:
                    raise CommandError(f"No organization with the slug {opts['org']!r}.")
                org_id = org.pk
            marked = mark_all(org_id)
        done = 0
        while True:
            step = rollup()
            done += step
            if not step:
                break
        self.stdout.write(json.dumps({"days_marked": marked, "days_recomputed": done}))
