"""PostgreSQL: runs and run events are partitioned by month, and enforcement drops a month whose
every row is doomed (counted per organization in the same transaction), keeps a month with any
row that must stay, and deletes the doomed rows of a kept month (and of the default partition)
row by row. The selection is the dry run's either way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from core.partitions import ensure_months, months, partitioned_tables
from retention.engine import enforce
from retention.services import hold_place, policy_set
from tests.conftest import api, assert_audited
from tests.retention.conftest import aged_run, run_elsewhere
from workspace.models import Run, RunEvent, RunPayload

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("partitions are PostgreSQL's; SQLite deletes row by row (make test runs both)")


def _month_of(days: float) -> str:
    return f"{timezone.now() - timedelta(days=days):%Y%m}"


def _has(table: str, days: float) -> bool:
    return any(m.name == f"{table}_p{_month_of(days)}" for m in months(table))


def _mid_month(days_ago: int) -> float:
    """An age in days that falls in the middle of its month (so "the month of that run" holds
    that run and nothing from the tests' other ages)."""
    at = timezone.now() - timedelta(days=days_ago)
    middle = datetime(at.year, at.month, 15, 12, tzinfo=UTC)
    return (timezone.now() - middle).total_seconds() / 86400


def _receipt(org):
    return assert_audited("retention.purged", org=org).data


def test_the_migration_partitions_runs_and_events_by_month():
    tables = partitioned_tables()
    assert tables["workspace_run"] == "started_at"
    assert tables["workspace_runevent"] == "at"
    now = timezone.now()
    for table in tables:
        names = {m.name for m in months(table)}
        assert f"{table}_p{now:%Y%m}" in names  # this month and those ahead are ready
    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass('workspace_runevent_pdefault')")
        assert cur.fetchone()[0] is not None


def test_a_wholly_expired_month_is_dropped_and_counted_like_the_dry_run(
    world, client, admin_client, api_key
):
    org = world["org"]
    age = _mid_month(400)
    runs = [aged_run(world["consumer"], world["agent"], age) for _ in range(3)]
    assert _has("workspace_runevent", age) and _has("workspace_run", age)
    from retention.selection import dry_run

    planned = dry_run(org)["categories"]
    enforce(org=org)
    assert not _has("workspace_runevent", age) and not _has("workspace_run", age)
    assert not Run.objects.filter(pk__in=[r.pk for r in runs]).exists()
    receipt = _receipt(org)
    dropped = {(m["table"], m["month"]): m["rows"] for m in receipt["months_dropped"]}
    month = f"{timezone.now() - timedelta(days=age):%Y-%m}"
    assert dropped[("workspace_runevent", month)] == 9  # 3 events of 3 runs
    assert dropped[("workspace_run", month)] == 3
    for key, category in receipt["purged"].items():
        assert category["rows"] == planned[key]["rows"], key
        assert category["bytes"] == planned[key]["bytes"], key
    # The API and the page say so too.
    listed = api(client, "GET", "/api/v1/retention/runs/", api_key).json()[0]["months_dropped"]
    assert {"table": "workspace_run", "month": month, "rows": 3} in listed
    page = admin_client.get(f"/o/{org.slug}/settings/retention/").content.decode()
    assert f"whole months dropped:</span> workspace_runevent {month} (9 rows)" in page


def test_a_month_with_a_held_row_is_kept_and_the_rest_goes_row_by_row(world):
    org = world["org"]
    age = _mid_month(300)
    free = [aged_run(world["consumer"], world["agent"], age) for _ in range(2)]
    held = aged_run(world["builder"], world["agent"], age)
    hold_place(org=org, actor=None, scope="member", target_id=world["builder"].pk, reason="case")
    enforce(org=org)
    assert _has("workspace_runevent", age) and _has("workspace_run", age)
    assert not Run.objects.filter(pk__in=[r.pk for r in free]).exists()
    assert RunEvent.objects.filter(run=held).count() == 3
    assert RunPayload.objects.filter(run=held).count() == 4
    month = f"{timezone.now() - timedelta(days=age):%Y-%m}"
    assert [m for m in _receipt(org)["months_dropped"] if m["month"] == month] == []
    assert _receipt(org)["purged"]["agent_run_logs"]["rows"] == 2 * 3  # row by row


def test_a_month_shared_with_an_organization_that_keeps_it_is_kept(world, other_org):
    age = _mid_month(200)
    ours = aged_run(world["consumer"], world["agent"], age)
    theirs = run_elsewhere(other_org, age)
    policy_set(
        org=other_org,
        actor=None,
        windows={"agent_run_logs": None, "integration_metadata": None, "payloads": None},
        confirm_forever=True,
    )
    enforce()
    assert _has("workspace_runevent", age)
    assert not Run.objects.filter(pk=ours.pk).exists()
    assert RunEvent.objects.filter(run=theirs).count() == 3


def test_organizations_sharing_an_expired_month_each_get_their_own_counts(world, other_org):
    org, age = world["org"], _mid_month(250)
    for _ in range(2):
        aged_run(world["consumer"], world["agent"], age)
    run_elsewhere(other_org, age)
    enforce()
    assert not _has("workspace_runevent", age)
    month = f"{timezone.now() - timedelta(days=age):%Y-%m}"
    for each, runs in ((org, 2), (other_org, 1)):
        receipt = _receipt(each)
        rows = {m["table"]: m["rows"] for m in receipt["months_dropped"] if m["month"] == month}
        assert rows == {"workspace_runevent": 3 * runs, "workspace_run": runs}
        assert receipt["purged"]["agent_run_logs"]["rows"] == 3 * runs  # 2 log lines + the run
        assert receipt["purged"]["integration_metadata"]["rows"] == runs


def test_enforcing_one_organization_keeps_a_month_another_one_shares(world, other_org):
    age = _mid_month(230)
    ours = aged_run(world["consumer"], world["agent"], age)
    theirs = run_elsewhere(other_org, age)
    enforce(org=world["org"])
    assert _has("workspace_runevent", age)
    assert not Run.objects.filter(pk=ours.pk).exists()
    assert Run.objects.filter(pk=theirs.pk).exists()


def test_rows_of_a_month_without_a_partition_go_row_by_row(world):
    """Five years back: no monthly partition, the rows sit in the default partition."""
    org = world["org"]
    run = aged_run(world["consumer"], world["agent"], 5 * 365)
    with connection.cursor() as cur:
        cur.execute("SELECT tableoid::regclass::text FROM workspace_run WHERE id = %s", [run.pk])
        assert cur.fetchone()[0] == "workspace_run_pdefault"
    enforce(org=org)
    assert not Run.objects.filter(pk=run.pk).exists()
    assert not RunEvent.objects.filter(run_id=run.pk).exists()
    assert _receipt(org)["purged"]["agent_run_logs"]["rows"] == 3


def test_ensure_months_leaves_a_month_already_in_the_default_partition():
    at = timezone.now() - timedelta(days=6 * 365)
    run = Run.objects.create(
        org_id=_any_org().pk, resource_name="import", trigger="api", started_at=at
    )
    made = ensure_months("workspace_run", at, at)
    assert made == []  # its rows would have to move under a lock of the whole table
    assert Run.objects.filter(pk=run.pk).exists()
    later = at - timedelta(days=62)
    assert ensure_months("workspace_run", later, later) == [f"workspace_run_p{later:%Y%m}"]


def _any_org():
    from orgs.services.orgs import org_create

    return org_create(slug="imports", name="Imports", actor=None)


def test_a_month_whose_detach_never_gets_its_lock_is_kept_and_walked(world, monkeypatch):
    """Another session reading run events holds the parent's lock the whole time: DETACH gives
    up after its short attempts (writers never queue behind it), and the rows go row by row."""
    import psycopg

    from core import partitions

    monkeypatch.setattr(partitions, "DETACH_ATTEMPTS", 2)
    monkeypatch.setattr(partitions, "DETACH_LOCK_MS", 20)
    org, age = world["org"], _mid_month(420)
    run = aged_run(world["consumer"], world["agent"], age)
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"]
    ) as reader:
        reader.execute("BEGIN")
        reader.execute("LOCK TABLE workspace_runevent IN ACCESS SHARE MODE")
        enforce(org=org)
        reader.execute("ROLLBACK")
    assert _has("workspace_runevent", age)  # kept
    assert not Run.objects.filter(pk=run.pk).exists()  # its rows went by the batches
    assert not RunEvent.objects.filter(run_id=run.pk).exists()
    assert _receipt(org)["purged"]["agent_run_logs"]["rows"] == 3
