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
        parser.add_argument(
            "--file",
            help="verify offline instead: a JSON Lines export (audit_export), or the records "
            "an audit stream delivered to a SIEM",
        )
        parser.add_argument(
            "--public-key",
            action="append",
            default=[],
            help="another trusted seal key (base64), e.g. from the organization that exported",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts.get("file"):
            self.verify_file(opts["file"], opts["public_key"])
            return
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

    def verify_file(self, path: str, keys: list[str]) -> None:
        from django.core.exceptions import ImproperlyConfigured

        from audit.offline import verify_file

        try:
            with open(path, encoding="utf-8") as lines:
                report = verify_file(lines, keys)
        except OSError as exc:
            raise CommandFailed(f"Cannot read {path}: {exc.strerror}.") from None
        except ImproperlyConfigured as exc:
            raise CommandFailed(str(exc)) from None
        self.emit({"file": path, **report})
        if not report["ok"]:
            sys.stdout.flush()
            sys.exit(1)
