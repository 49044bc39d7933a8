"""`manage.py retention_enforce` killed with SIGKILL at random points, again and again, then let
finish: the final counts are exact, no held row is gone, and the one receipt adds up."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from retention.models import RetentionRun
from retention.selection import active_holds, doomed, policy_of
from retention.services import hold_place
from tests.conftest import assert_audited
from tests.retention.conftest import aged_run
from workspace.models import RunPayload

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def _rows(models):
    from django.apps import apps

    return {m: set(apps.get_model(m).objects.values_list("pk", flat=True)) for m in models}


def _end_killed_sessions() -> None:
    """A killed client's server session lives on until its statement ends (PostgreSQL notices
    the closed socket only then), holding its locks: end them, so the tests after this one do
    not wait on a lock of a process that is gone."""
    with connection.cursor() as cur:
        for _ in range(50):
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'"
            )
            if not cur.fetchall():
                return
            time.sleep(0.1)


def test_sigkill_at_random_points_then_finish_exactly(world):
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: the command runs in its own process against the test "
            "database, which SQLite keeps in this process's memory (make test runs it)"
        )
    org, rng = world["org"], random.Random(15)
    from datetime import timedelta

    from django.utils import timezone

    from core.partitions import ensure_months

    for table in ("workspace_run", "workspace_runevent"):  # an earlier test may have dropped some
        ensure_months(table, timezone.now() - timedelta(days=320), timezone.now())
    for _ in range(24):
        aged_run(world["consumer"], world["agent"], rng.uniform(100, 300))
    held = [aged_run(world["builder"], world["agent"], rng.uniform(100, 300)) for _ in range(4)]
    hold_place(org=org, actor=None, scope="member", target_id=world["builder"].pk, reason="case")
    from core import retention as registry

    policy, now, holds = policy_of(org), timezone.now(), active_holds(org)
    expected: dict[str, set[int]] = {}
    for table in registry.TABLES:
        qs = doomed(table, org, policy, now, holds) if table.enforced and table.org else None
        if qs is not None:
            expected.setdefault(table.model, set()).update(qs.values_list("pk", flat=True))
    models = {*expected, "workspace.Run", "workspace.RunEvent", "workspace.RunPayload"}
    before = _rows(models)
    held_rows = {
        "workspace.Run": {r.pk for r in held},
        "workspace.RunPayload": set(
            RunPayload.objects.filter(run__in=held).values_list("pk", flat=True)
        ),
    }

    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "GOVERNANCE_RETENTION_BATCH_ROWS": "2",
        "GOVERNANCE_RETENTION_PAUSE_SECONDS": "0.02",
    }
    command = [sys.executable, str(ROOT / "manage.py"), "retention_enforce", "--org", "acme"]
    kills = 0
    while kills < 6:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            if RetentionRun.objects.filter(org=org).exists():
                break  # the run has started: kill it somewhere in its batches
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.4))
        if process.poll() is not None:
            assert process.returncode == 0
            break
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
    if not RetentionRun.objects.filter(org=org, state="done").exists():
        assert subprocess.run(command, env=env, cwd=ROOT, check=False).returncode == 0
    assert kills >= 3  # it was cut off for real, several times
    _end_killed_sessions()

    after = _rows(models)
    for model, pks in expected.items():
        assert before[model] - after[model] == pks, model  # exactly the doomed rows
    for model, pks in held_rows.items():
        assert pks <= after[model], model  # nothing held is gone
    run = RetentionRun.objects.get(org=org)
    assert run.state == "done" and run.resumed >= 1
    receipt = assert_audited("retention.purged", org=org).data
    deleted = sum(len(v) for v in expected.values())
    assert sum(c["rows"] for c in receipt["purged"].values()) == deleted
    # Some months had no held run: they were dropped whole, and counted in the same totals.
    assert any(m["rows"] for m in receipt["months_dropped"])
