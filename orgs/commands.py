"""The base of management commands that act on one organization, named by its slug."""

from __future__ import annotations

from core.management import CommandFailed, JsonCommand
from orgs.models import Organization
from orgs.selectors import org_by_slug


class OrgCommand(JsonCommand):
    @staticmethod
    def org(slug: str) -> Organization:
        org = org_by_slug(slug)
        if org is None:
            raise CommandFailed(f"No organization with the slug {slug!r}.")
        return org
