"""Retention enforcement: windows per category with finite defaults, team overrides (the longer
window wins), legal holds (nothing held is ever deleted), zero data retention, the dry run
selecting exactly what the run deletes, receipts in the audit log, and resuming."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.utils import timezone

from core import retention as registry
from core.exceptions import ValidationFailed
from retention.engine import enforce, enforce_org
from retention.models import RetentionRun
from retention.selection import doomed, dry_run, policy_of, windows_of
from retention.services import hold_place, hold_release, policy_set, team_window_set, zdr_set
from tests.conftest import assert_audited, audit_count
from tests.retention.conftest import aged_run
from workspace.models import Run, RunEvent, RunPayload
from workspace.services.runs import run_events_append, run_open

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def _ours(config) -> bool:
    """An app of this repository (not Django's, DRF's or guardian's)."""
    return Path(config.path).resolve().parent == ROOT


def test_every_table_is_in_a_category_or_exempt_with_a_reason():
    registered = {t.model for t in registry.TABLES}
    ours = {c.label for c in apps.get_app_configs() if _ours(c)}
    assert {"workspace", "audit", "scim", "retention"} <= ours
    for model in apps.get_models():
        label = f"{model._meta.app_label}.{model.__name__}"
        if model._meta.app_label in ours and not model._meta.abstract:
            assert label in registered or label in registry.EXEMPT, (
                f"{label} holds rows but no retention category covers it: register it in its "
                "app (core.retention.table) or exempt it with a reason."
            )


def test_defaults_are_finite_and_as_the_brief_says(org):
    windows = windows_of(org)
    assert windows == {
        "audit_log": 365,
        "system_metadata": 365,
        "agent_run_logs": 90,
        "workflow_run_logs": 90,
        "payloads": 30,
        "integration_metadata": 90,
    }
    assert None not in windows.values()


def _left(run):
    return (
        Run.objects.filter(pk=run.pk).exists(),
        RunEvent.objects.filter(run=run, kind="log").count(),
        RunEvent.objects.filter(run=run, kind="tool_call").count(),
        RunPayload.objects.filter(run=run).count(),
    )


def test_each_category_expires_on_its_own_window_and_the_receipt_is_audited(world, aged):
    fresh, mid, old = aged(10), aged(45), aged(120)
    plan = dry_run(world["org"])
    assert plan["categories"]["payloads"]["rows"] == 8  # 4 payloads each of mid and old
    assert plan["categories"]["agent_run_logs"]["rows"] == 2 + 1  # old's lines, then old
    enforce(org=world["org"])
    assert _left(fresh) == (True, 2, 1, 4)
    assert _left(mid) == (True, 2, 1, 0)  # payloads: 30 days
    assert _left(old) == (False, 0, 0, 0)  # everything: 90 days, the run with its last row
    receipt = assert_audited("retention.purged", org=world["org"], actor_kind="system").data
    assert receipt["purged"]["payloads"]["rows"] == 8
    assert receipt["purged"]["agent_run_logs"]["rows"] == 3
    assert receipt["purged"]["integration_metadata"]["rows"] == 1
    assert receipt["purged"]["payloads"]["bytes"] > 0
    assert receipt["windows"]["payloads"] == 30
    again = dry_run(world["org"])
    assert all(c["rows"] == 0 for c in again["categories"].values())


def test_keep_forever_must_be_confirmed_and_changes_are_audited(world, aged):
    org = world["org"]
    with pytest.raises(ValidationFailed, match=r"must be\s+confirmed"):
        policy_set(org=org, actor=None, windows={"payloads": None})
    with pytest.raises(ValidationFailed, match="whole number of days"):
        policy_set(org=org, actor=None, windows={"payloads": "-1"})
    with pytest.raises(ValidationFailed, match="Unknown category"):
        policy_set(org=org, actor=None, windows={"nope": 1})
    assert audit_count(action="retention.policy_changed") == 0
    policy_set(org=org, actor=None, windows={"payloads": None}, confirm_forever=True)
    event = assert_audited("retention.policy_changed", org=org)
    assert event.data == {"old": {"payloads": 30}, "new": {"payloads": None}}
    old = aged(200)
    enforce(org=org)
    assert RunPayload.objects.filter(run=old).count() == 4  # kept forever


def test_the_longer_of_the_org_and_team_window_wins(world):
    org, support, data = world["org"], world["support"], world["data"]
    from workspace.services.resources import resource_create

    data_agent = resource_create(
        org=org, kind="agent", fields={"name": "Data bot", "team": data}, actor=None
    )
    team_window_set(team=support, actor=None, category="payloads", days=90)
    team_window_set(team=data, actor=None, category="payloads", days=5)  # shorter: org's 30
    longer = aged_run(world["consumer"], world["agent"], 60)  # support's run
    shorter = aged_run(world["outsider"], data_agent, 20)
    expired = aged_run(world["outsider"], data_agent, 40)
    enforce(org=org)
    assert RunPayload.objects.filter(run=longer).count() == 4
    assert RunPayload.objects.filter(run=shorter).count() == 4
    assert RunPayload.objects.filter(run=expired).count() == 0
    assert audit_count(action="retention.team_window_changed", target_id=str(support.pk)) == 1
    with pytest.raises(ValidationFailed, match="only the windows of run data"):
        team_window_set(team=support, actor=None, category="audit_log", days=5)


def test_holds_beat_every_window_and_release_previews_then_purges(world, aged):
    org = world["org"]
    member_run = aged(200)
    other = aged_run(world["builder"], world["agent"], 200)
    hold = hold_place(
        org=org,
        actor=None,
        scope="member",
        target_id=world["consumer"].pk,
        reason="Litigation: Doe v. Acme",
        case_reference="CASE-17",
    )
    plan = dry_run(org)
    assert plan["holds"][0]["spares"] == 2 + 1 + 4 + 1  # lines, tool call, payloads, run
    enforce(org=org)
    assert _left(member_run) == (True, 2, 1, 4)
    assert _left(other) == (False, 0, 0, 0)
    receipt = assert_audited("retention.purged", org=org).data
    assert receipt["holds"][0]["spares"] == 8 and receipt["spared_by_holds"]["payloads"] == 4
    hold_release(hold=hold, actor=None)
    assert dry_run(org)["categories"]["payloads"]["rows"] == 4  # what release would purge
    enforce(org=org)
    assert _left(member_run) == (False, 0, 0, 0)
    assert_audited("retention.hold_placed", org=org, target_id=str(hold.pk))
    assert_audited("retention.hold_released", org=org, target_id=str(hold.pk))


def test_a_hold_in_a_time_range_covers_only_that_range(world, aged):
    org = world["org"]
    inside, outside = aged(150), aged(300)
    now = timezone.now()
    hold_place(
        org=org,
        actor=None,
        scope="agent",
        target_id=world["agent"].pk,
        reason="Audit of Q2",
        starts=now - timedelta(days=200),
        ends=now - timedelta(days=100),
    )
    enforce(org=org)
    assert _left(inside) == (True, 2, 1, 4)
    assert _left(outside) == (False, 0, 0, 0)


def test_hold_targets_must_be_this_organizations(world, other_org):
    from orgs.services.teams import team_create

    elsewhere = team_create(org=other_org, name="Theirs", actor=None)
    with pytest.raises(ValidationFailed, match="No team with id"):
        hold_place(org=world["org"], actor=None, scope="team", target_id=elsewhere.pk, reason="x")
    with pytest.raises(ValidationFailed, match="Say why"):
        hold_place(org=world["org"], actor=None, scope="org", reason="  ")


def test_zero_data_retention_writes_no_content_and_empties_what_was_stored(world, aged):
    org = world["org"]
    before = aged(3)
    zdr_set(org=org, actor=None, enabled=True)
    assert_audited("retention.zdr_changed", org=org)
    run = run_open(
        org=org,
        member=world["consumer"],
        resource=world["agent"],
        trigger="api",
        input={"ask": "confidential question"},
        actor=None,
    )
    run_events_append(
        run=run,
        events=[{"type": "tool_call", "integration": "slack", "input": "confidential input"}],
    )
    stored = list(RunPayload.objects.filter(run=run).values("content", "size", "sha256"))
    assert stored and all(p["content"] == "" and p["size"] > 0 for p in stored)
    assert len(stored[0]["sha256"]) == 64
    assert dry_run(org)["categories"]["payloads"]["zdr_blank"] == 4
    enforce(org=org)
    assert set(RunPayload.objects.filter(run=before).values_list("content", flat=True)) == {""}
    assert RunPayload.objects.filter(run=before).count() == 4  # size and SHA-256 kept
    receipt = assert_audited("retention.purged", org=org).data
    assert receipt["purged"]["payloads"]["blanked"] == 4


def test_zero_data_retention_per_agent(world, aged):
    zdr_set(org=world["org"], actor=None, enabled=True, resource=world["agent"])
    run = aged(1)
    assert set(RunPayload.objects.filter(run=run).values_list("content", flat=True)) == {""}


def test_the_dry_run_selects_exactly_what_the_run_deletes(world):
    """Random windows, team overrides, holds and ages: the rows deleted are the rows the dry
    run's selection named, and never a held one."""
    org, rng = world["org"], random.Random(20261130)
    members = [world["consumer"], world["builder"]]
    runs = [aged_run(rng.choice(members), world["agent"], rng.uniform(0, 400)) for _ in range(14)]
    for round_ in range(3):
        windows = {c: rng.choice([0, 7, 30, 90, 365]) for c in registry.CATEGORIES}
        policy_set(org=org, actor=None, windows=windows)
        if rng.random() < 0.7:
            team_window_set(
                team=world["support"], actor=None, category="payloads", days=rng.choice([1, 200])
            )
        held_member = rng.choice(members)
        hold_place(
            org=org, actor=None, scope="member", target_id=held_member.pk, reason=f"r{round_}"
        )
        from retention.selection import active_holds

        policy, now, holds = policy_of(org), timezone.now(), active_holds(org)
        expected = {}
        for table in registry.TABLES:
            qs = doomed(table, org, policy, now, holds) if table.enforced and table.org else None
            if qs is not None:
                expected.setdefault(table.model, set()).update(qs.values_list("pk", flat=True))
        held_rows = set(
            RunPayload.objects.filter(run__member=held_member).values_list("pk", flat=True)
        )
        before = {m: set(apps.get_model(m).objects.values_list("pk", flat=True)) for m in expected}
        enforce(org=org)
        for model, pks in expected.items():
            after = set(apps.get_model(model).objects.values_list("pk", flat=True))
            assert before[model] - after == pks, (round_, model)
        assert held_rows <= set(RunPayload.objects.values_list("pk", flat=True))
    assert any(not Run.objects.filter(pk=r.pk).exists() for r in runs)


def test_a_run_cut_off_resumes_with_exact_counts(world, aged, monkeypatch):
    org = world["org"]
    for _ in range(6):
        aged(100)
    from retention import engine

    real, calls = engine._batch, {"n": 0}

    def dies_after_the_third_batch(*args, **kwargs):
        done = real(*args, **kwargs)
        calls["n"] += bool(done)
        if calls["n"] == 3:
            raise KeyboardInterrupt  # killed between two batches' transactions
        return done

    monkeypatch.setattr(engine, "_batch", dies_after_the_third_batch)
    with pytest.raises(KeyboardInterrupt):
        enforce_org(org, batch=2, pause=0)
    cut = RetentionRun.objects.get(org=org)
    assert cut.state == "running" and sum(c["rows"] for c in cut.counts.values()) > 0
    monkeypatch.setattr(engine, "_batch", real)
    finished = enforce_org(org, batch=2, pause=0)
    assert finished.pk == cut.pk and finished.resumed == 1
    receipt = assert_audited("retention.purged", org=org).data
    # 6 runs: 12 log lines + 6 runs, 6 tool calls, 24 payloads; each counted once.
    assert receipt["purged"]["agent_run_logs"]["rows"] == 18
    assert receipt["purged"]["integration_metadata"]["rows"] == 6
    assert receipt["purged"]["payloads"]["rows"] == 24
    assert not Run.objects.filter(org=org).exists()


def test_with_zero_data_retention_no_payload_byte_reaches_any_table(world):
    """Every table, every column: the content sent with zero data retention on is nowhere."""
    from django.db import connection

    zdr_set(org=world["org"], actor=None, enabled=True)
    marker = "zdr-marker-7f3a91"
    run = run_open(
        org=world["org"],
        member=world["consumer"],
        resource=world["agent"],
        trigger="api",
        input={"question": marker},
        actor=None,
    )
    run_events_append(
        run=run,
        events=[
            {"type": "tool_call", "integration": "slack", "input": marker, "output": [marker]},
        ],
    )
    from workspace.services.runs import run_close

    run_close(run=run, status="succeeded", output=f"answer {marker}", actor=None)
    assert RunPayload.objects.filter(run=run).count() == 4
    found = []
    with connection.cursor() as cur:
        for table in connection.introspection.table_names(cur):
            cur.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            if any(marker in str(row) for row in cur.fetchall()):
                found.append(table)
    assert found == []
