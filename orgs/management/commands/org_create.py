from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.db import transaction

from core.management import JsonCommand
from orgs.choices import RbacRole
from orgs.services.members import membership_add
from orgs.services.orgs import org_create
from orgs.services.roles import role_templates_create


class Command(JsonCommand):
    help = (
        "Create an organization and its first admin. Prints JSON with the admin's one-time "
        "password (null when the e-mail already had an account)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--admin-email", required=True)
        parser.add_argument(
            "--no-role-templates",
            action="store_true",
            help="do not create the built-in Builder, Consumer and Org Admin custom roles",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        actor = self.actor()
        with transaction.atomic():
            org = org_create(slug=opts["slug"], name=opts["name"], actor=actor)
            added = membership_add(
                org=org, email=opts["admin_email"], role=RbacRole.ADMIN, actor=actor
            )
            templates = (
                [] if opts["no_role_templates"] else role_templates_create(org=org, actor=actor)
            )
        self.emit(
            {
                "org": org.slug,
                "name": org.name,
                "admin_email": added.membership.user.email,
                "one_time_password": added.one_time_password,
                "password_change_required": added.one_time_password is not None,
                "custom_roles": [role.name for role in templates],
            }
        )
