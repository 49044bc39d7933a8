from __future__ import annotations

import json
import os
from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser
from django.db import transaction

from core.management import JsonCommand
from identity.services import generate_password, user_set_password
from orgs.choices import RbacRole
from orgs.selectors import domain_claim_get, org_by_slug
from orgs.services.assignments import role_assign, team_member_add
from orgs.services.domains import domain_verify, domains_set
from orgs.services.members import membership_add
from orgs.services.orgs import org_create
from orgs.services.roles import custom_role_create
from orgs.services.teams import team_create

ROLES = {
    "Builder": [
        "agents.create",
        "agents.edit",
        "agents.run",
        "workflows.build",
        "workflows.execute",
        "integrations.use.slack",
        "integrations.use.jira",
        "schedules.manage",
    ],
    "Consumer": ["agents.run", "workflows.execute", "integrations.use.slack"],
    "Support Builder": [
        "agents.create",
        "agents.edit",
        "agents.run",
        "workflows.build",
        "integrations.use.zendesk",
        "integrations.use.slack",
    ],
}
TEAMS = ["Support", "Sales Ops", "Data"]
DEMO_DOMAIN = "acme.example"
MEMBERS = [
    ("ada@acme.example", "Ada Lovelace", ["Builder"], ["Data"]),
    ("grace@acme.example", "Grace Hopper", ["Support Builder"], ["Support"]),
    ("alan@acme.example", "Alan Turing", ["Consumer"], ["Sales Ops"]),
    ("katherine@acme.example", "Katherine Johnson", ["Consumer", "Builder"], ["Data", "Support"]),
]


class Command(JsonCommand):
    help = (
        "Create the demo organization (only if absent) and print how to sign in. "
        "The admin's password is kept in var/demo-credentials.json (mode 600)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--slug", default="acme")
        parser.add_argument("--admin-email", default="admin@acme.example")

    def handle(self, *args: Any, **opts: Any) -> None:
        creds_path = settings.VAR_DIR / "demo-credentials.json"
        org = org_by_slug(opts["slug"])
        if org is None:
            password = self._seed(opts["slug"], opts["admin_email"])
            settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
            fd = os.open(creds_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump({"email": opts["admin_email"], "password": password}, fh)
            created = True
        else:
            created = False
        creds = json.loads(creds_path.read_text()) if creds_path.exists() else {}
        self.emit(
            {
                "org": opts["slug"],
                "created": created,
                "admin_email": creds.get("email", opts["admin_email"]),
                "admin_password": creds.get("password"),
            }
        )

    def _seed(self, slug: str, admin_email: str) -> str:
        actor = self.actor()
        with transaction.atomic():
            org = org_create(slug=slug, name="Acme Corp (demo)", actor=actor)
            admin = membership_add(
                org=org,
                email=admin_email,
                full_name="Demo Admin",
                role=RbacRole.ADMIN,
                actor=actor,
                set_password=False,
            )
            password = generate_password()
            user_set_password(
                user=admin.membership.user, password=password, actor=actor, orgs=[org]
            )
            roles = {
                name: custom_role_create(org=org, name=name, permissions=perms, actor=actor)
                for name, perms in ROLES.items()
            }
            teams = {name: team_create(org=org, name=name, actor=actor) for name in TEAMS}
            # The demo's e-mail domain, verified on the operator's word (audited as skip-dns):
            # there is no DNS to publish a record in for acme.example.
            domains_set(org=org, domains=[DEMO_DOMAIN], actor=actor)
            domain_verify(
                claim=domain_claim_get(org=org, domain=DEMO_DOMAIN), actor=actor, skip_dns=True
            )
            for email, full_name, role_names, team_names in MEMBERS:
                m = membership_add(
                    org=org, email=email, full_name=full_name, actor=actor
                ).membership
                for r in role_names:
                    role_assign(membership=m, role=roles[r], actor=actor)
                for t in team_names:
                    team_member_add(team=teams[t], membership=m, actor=actor)
        return password
