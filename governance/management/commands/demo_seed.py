from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import CommandParser
from django.db import transaction
from django.utils import timezone

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
from workspace.services.connections import connection_create
from workspace.services.resources import resource_create, share_set
from workspace.services.runs import run_close, run_events_append, run_open
from workspace.services.schedules import schedule_create

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
    "Consumer": [
        "agents.run",
        "workflows.execute",
        "integrations.use.slack",
        "integrations.use.zendesk",
        "integrations.use.jira",
    ],
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
            members = {}
            for email, full_name, role_names, team_names in MEMBERS:
                m = membership_add(
                    org=org, email=email, full_name=full_name, actor=actor
                ).membership
                for r in role_names:
                    role_assign(membership=m, role=roles[r], actor=actor)
                for t in team_names:
                    team_member_add(team=teams[t], membership=m, actor=actor)
                members[email] = m
            _workspace(org, teams, members, actor)
        return password


def _workspace(org: Any, teams: dict, members: dict, actor: Any) -> None:
    """Integrations, agents, a workflow, a schedule and three weeks of runs, through the same
    services as everything else (the demo's history is backdated with `started_at`)."""
    for integration, label in (
        ("slack", "Acme Slack"),
        ("zendesk", "Support desk"),
        ("jira", "Engineering Jira"),
        ("snowflake", "Finance warehouse"),
    ):
        connection_create(org=org, integration=integration, label=label, actor=actor)
    triage = resource_create(
        org=org,
        kind="agent",
        fields={
            "name": "Support triage",
            "description": "Reads new tickets, suggests a reply, posts a summary in #support.",
            "instructions": "Classify the ticket, draft a reply, never promise refunds.",
            "model": "gpt-5",
            "integrations": ["zendesk", "slack"],
            "team": teams["Support"],
        },
        actor=actor,
    )
    standup = resource_create(
        org=org,
        kind="agent",
        fields={
            "name": "Standup digest",
            "description": "Summarises yesterday's Jira activity for the Data team.",
            "integrations": ["jira", "slack"],
            "team": teams["Data"],
        },
        actor=actor,
    )
    resource_create(
        org=org,
        kind="workflow",
        fields={
            "name": "Escalate urgent tickets",
            "steps": [
                {"name": "Find urgent", "integration": "zendesk", "action": "search_tickets"},
                {"name": "Open issue", "integration": "jira", "action": "create_issue"},
                {"name": "Tell the team", "integration": "slack", "action": "post_message"},
            ],
            "team": teams["Support"],
        },
        actor=actor,
    )
    share_set(obj=standup, level="runner", team=teams["Sales Ops"], actor=actor)
    schedule_create(
        resource=standup,
        cron="0 9 * * 1-5",
        time_zone="Europe/Paris",
        run_as=members["ada@acme.example"],
        actor=actor,
    )
    now = timezone.now()
    history = [
        (triage, members["grace@acme.example"], "slack"),
        (triage, members["katherine@acme.example"], "web"),
        (standup, members["ada@acme.example"], "schedule"),
    ]
    for day in range(21, 0, -1):
        for i, (agent, member, trigger) in enumerate(history):
            started = now - timedelta(days=day, hours=3 * i)
            run = run_open(
                org=org,
                member=member,
                resource=agent,
                trigger=trigger,
                started_at=started,
                actor=actor,
            )
            run_events_append(
                run=run,
                events=[
                    {
                        "type": "log",
                        "level": "info",
                        "message": "started",
                        "at": started.isoformat(),
                    },
                    *[
                        {
                            "type": "tool_call",
                            "integration": slug,
                            "action": "call",
                            "latency_ms": 40 + (day * 7 + i * 13) % 300,
                            "outcome": "ok" if (day + i) % 9 else "error",
                            "at": (started + timedelta(seconds=2 + n)).isoformat(),
                        }
                        for n, slug in enumerate(agent.integrations)
                    ],
                ],
            )
            failed = (day + i) % 9 == 0
            run_close(
                run=run,
                status="failed" if failed else "succeeded",
                error="Zendesk answered 503" if failed else "",
                ended_at=started + timedelta(seconds=20),
                actor=actor,
            )
