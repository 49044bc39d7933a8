"""Mapping-engine benchmark on PostgreSQL: `make bench-mapping` (or `.venv/bin/python
bench/mapping.py`).

A fresh database `governance_bench_mapping`: 10,000 SCIM-provisioned members, 200 IdP groups,
each member in 5 of them, 50 mapping-table rows per direction (roles and teams). Measures:
  - a full resync (both directions, every member, as the Celery job runs it), first run
    (everyone gains) and a second run (nothing to change);
  - one group PATCH that adds 1,000 members, the per-change sync included, through the real
    SCIM view (Django test client);
and counts the queries of each, to show they do not grow per member.
Targets (issue 4): full resync < 15 s; the 1,000-member PATCH < 2 s.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB = "governance_bench_mapping"
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
MEMBERS, GROUPS, PER_MEMBER, ROWS = 10_000, 200, 5, 50
os.environ.update(
    {
        "DATABASE_URL": f"{PG}/{DB}",
        "DJANGO_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DJANGO_SETTINGS_MODULE": "governance.settings",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "GOVERNANCE_SCIM_RATE_LIMIT": "100000000",
        "GOVERNANCE_LOG_LEVEL": "WARNING",
        "CELERY_TASK_ALWAYS_EAGER": "1",
    }
)


def main() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from identity.models import User
    from mapping.models import GroupMapping, IdpGroup, IdpGroupMember, IdpUser, MappingSyncJob
    from mapping.services.sync import mapping_sync_job_run
    from orgs.models import CustomRole, Membership, RoleAssignment, Team, TeamMembership
    from orgs.services.orgs import org_create
    from scim.services.tokens import scim_token_create

    call_command("migrate", verbosity=0)
    rnd = random.Random(4)
    org = org_create(slug="bench", name="Bench", actor=None)
    _, secret = scim_token_create(org=org, label="bench", actor=None)
    # Volume in bulk (the services are what the tests exercise; here they would be the bench).
    users = User.objects.bulk_create(
        User(email=f"m{i:05d}@bench.example", password="!") for i in range(MEMBERS)
    )
    ms = Membership.objects.bulk_create(Membership(org=org, user=u, source="scim") for u in users)
    sus = IdpUser.objects.bulk_create(
        IdpUser(org=org, membership=m, user_name=u.email) for m, u in zip(ms, users, strict=True)
    )
    groups = IdpGroup.objects.bulk_create(
        IdpGroup(org=org, display_name=f"okta-group-{g:03d}") for g in range(GROUPS)
    )
    IdpGroupMember.objects.bulk_create(
        (
            IdpGroupMember(group=g, membership_id=su.membership_id)
            for su in sus
            for g in rnd.sample(groups, PER_MEMBER)
        ),
        batch_size=5000,
    )
    roles = CustomRole.objects.bulk_create(
        CustomRole(org=org, name=f"Role {r}", name_key=f"role {r}") for r in range(25)
    )
    teams = Team.objects.bulk_create(
        Team(org=org, name=f"Team {t}", name_key=f"team {t}") for t in range(25)
    )
    mapped = rnd.sample(groups, ROWS)
    GroupMapping.objects.bulk_create(
        [
            GroupMapping(org=org, direction="roles", group=g, role=roles[i % 25])
            for i, g in enumerate(mapped)
        ]
        + [
            GroupMapping(org=org, direction="teams", group=g, team=teams[i % 25])
            for i, g in enumerate(mapped)
        ]
    )
    with connection.cursor() as c:
        c.execute("VACUUM ANALYZE")

    report: dict[str, object] = {"members": MEMBERS, "groups": GROUPS, "rows_per_direction": ROWS}
    for label in ("full_resync_first", "full_resync_again"):
        # The job as "Run sync now" queues it; run here, in this process, as the worker would.
        job = MappingSyncJob.objects.create(org=org, trigger="manual")
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            job = mapping_sync_job_run(job_id=job.pk)
            report[f"{label}_s"] = round(time.perf_counter() - t0, 2)
        assert job.status == "done", job.error
        report[f"{label}_queries"] = len(ctx)
        report[f"{label}_member_direction_changes"] = job.members_changed
    report["role_assignments"] = RoleAssignment.objects.filter(source="idp").count()
    report["team_memberships"] = TeamMembership.objects.filter(source="idp").count()

    # One group PATCH adding 1,000 members who are not in it yet (Okta's group push shape).
    group = mapped[0]
    inside = set(IdpGroupMember.objects.filter(group=group).values_list("membership_id", flat=True))
    joining = [su for su in sus if su.membership_id not in inside][:1000]
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {
                "op": "replace",
                "value": {"id": str(group.uid), "displayName": group.display_name},
            },
            {
                "op": "add",
                "path": "members",
                "value": [{"value": str(su.uid)} for su in joining],
            },
        ],
    }
    client = Client()
    with CaptureQueriesContext(connection) as ctx:
        t0 = time.perf_counter()
        r = client.patch(
            f"/scim/v2/Groups/{group.uid}",
            json.dumps(body),
            content_type="application/scim+json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        )
        report["group_patch_add_1000_s"] = round(time.perf_counter() - t0, 2)
    assert r.status_code == 204, r.content
    report["group_patch_add_1000_queries"] = len(ctx)
    print(json.dumps(report, indent=2))
    ok = report["full_resync_first_s"] < 15 and report["group_patch_add_1000_s"] < 2
    print("targets met" if ok else "TARGETS MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
