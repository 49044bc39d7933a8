"""Tamper evidence, on PostgreSQL and SQLite: the sealer folds events into signed, chained
Merkle seals, and verification names the first broken link exactly for each kind of tampering
an attacker with the database owner's rights could do in SQL (edit a field, delete a row,
insert a forged row, swap two rows, delete a seal, edit a seal, re-sign a seal with another
key). Events are committed for real (the sealer only folds finished transactions)."""

from __future__ import annotations

import base64
import threading

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection, connections, transaction

from audit import ledger
from audit.models import AuditEvent, AuditSeal
from audit.sealing import seal_fields, seal_pass
from audit.services import audit_record
from audit.verification import verify

pytestmark = pytest.mark.django_db(transaction=True)


def record(org, n: int = 1, **data) -> list[AuditEvent]:
    made = []
    for i in range(n):
        with transaction.atomic():
            made.append(
                audit_record(
                    action="team.created",
                    org=org,
                    actor=None,
                    target_type="team",
                    target_id=str(i),
                    target_label=f"Team {i}",
                    data={"new": {"name": f"Team {i}", "n": i, **data}},
                )
            )
    return made


def tamper(sql: str, params: list | None = None) -> None:
    """What an attacker with the owner's rights does: triggers off, then SQL."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SET session_replication_role = replica")
        try:
            cur.execute(sql, params or [])
        finally:
            if connection.vendor == "postgresql":
                cur.execute("SET session_replication_role = origin")


@pytest.fixture
def sealed(org):
    """Two seals of five events each (after one for the organization's own setup), and a
    verified trail."""
    seal_pass()
    first = record(org, 5)
    assert seal_pass()["events"] == 5
    second = record(org, 5)
    assert seal_pass()["seals"] == 1
    report = verify(org.pk)
    assert report["ok"], report
    setup = AuditSeal.objects.get(org_key=org.pk, seq=1).count  # org_create's own events
    assert report["events_checked"] == 10 + setup and report["seals_checked"] == 3
    return first + second


def broken(org) -> dict:
    report = verify(org.pk)
    assert not report["ok"]
    return report["first_broken"]


def test_an_untouched_trail_verifies_and_each_seal_chains_to_the_last(org, sealed):
    seals = list(AuditSeal.objects.filter(org_key=org.pk).order_by("seq"))
    assert [s.seq for s in seals] == [1, 2, 3] and seals[2].prev == seals[1].hash
    assert (
        seals[1].count == 5
        and seals[1].first_id == sealed[0].pk
        and seals[0].key_id == ledger.keys().key_id
    )
    assert all(e.leaf == ledger.leaf(e.__dict__).hex() for e in sealed)


def test_an_edited_field_is_named(org, sealed):
    victim = sealed[2]
    tamper("UPDATE audit_auditevent SET actor_label = 'someone else' WHERE id = %s", [victim.pk])
    link = broken(org)
    assert link["kind"] == "changed_row" and link["event_id"] == victim.pk
    assert link["seal"] == 2 and link["leaf_rewritten"] is False
    assert link["occurred_at"] == ledger._time(victim.occurred_at)


def test_an_edited_field_with_its_leaf_rewritten_is_still_named(org, sealed):
    victim = sealed[7]
    values = {**victim.__dict__, "target_label": "Nothing to see"}
    tamper(
        "UPDATE audit_auditevent SET target_label = %s, leaf = %s WHERE id = %s",
        ["Nothing to see", ledger.leaf(values).hex(), victim.pk],
    )
    link = broken(org)
    assert link["kind"] == "changed_row" and link["event_id"] == victim.pk
    assert link["seal"] == 3 and link["leaf_rewritten"] is True


def test_a_deleted_row_is_named(org, sealed):
    victim = sealed[3]
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk])
    link = broken(org)
    assert link["kind"] == "deleted_row" and link["event_id"] == victim.pk
    assert link["after_event_id"] == sealed[2].pk and link["seal"] == 2


def test_a_forged_row_in_a_sealed_range_on_postgresql_is_named(org, sealed):
    if connection.vendor != "postgresql":
        pytest.skip("on SQLite the sealing order is the id (the test below)")
    source = sealed[1]
    xact = AuditEvent.objects.filter(pk=source.pk).values_list("xact", flat=True).first()
    with connection.cursor() as cur:
        cur.execute("SELECT MAX(id) FROM audit_auditevent")
        forged_id = cur.fetchone()[0] + 1000
    tamper(
        "INSERT INTO audit_auditevent (id, org_id, occurred_at, action, actor_kind, actor_id, "
        "actor_label, target_type, target_id, target_label, user_agent, request_id, data, "
        "leaf, xact) VALUES (%s, %s, %s, 'member.role_changed', 'user', '1', "
        "'admin@acme.example', 'membership', '9', 'ghost', '', '', '{}', '', %s)",
        [forged_id, org.pk, source.occurred_at, xact],
    )
    link = broken(org)
    assert link["kind"] == "inserted_row" and link["event_id"] == forged_id
    assert link["seal"] == 2 and link["occurred_at"] == ledger._time(source.occurred_at)


def test_a_forged_row_between_two_sealed_ids_on_sqlite_is_named(org):
    if connection.vendor == "postgresql":
        pytest.skip("on PostgreSQL the sealing order is the transaction id (test above)")
    seal_pass()
    events = record(org, 3)
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])  # make a free id
    seal_pass()
    tamper(
        "INSERT INTO audit_auditevent (id, org_id, occurred_at, action, actor_kind, actor_id, "
        "actor_label, target_type, target_id, target_label, user_agent, request_id, data, leaf) "
        "VALUES (%s, %s, %s, 'member.role_changed', 'user', '1', 'x', '', '', '', '', '', "
        "'{}', '')",
        [events[1].pk, org.pk, events[0].occurred_at],
    )
    link = broken(org)
    assert link["kind"] == "inserted_row" and link["event_id"] == events[1].pk


def test_two_swapped_rows_are_named(org, sealed):
    a, b = sealed[5], sealed[6]
    json_value = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    tamper(
        "UPDATE audit_auditevent SET target_id = CASE id WHEN %s THEN %s ELSE %s END, "
        "target_label = CASE id WHEN %s THEN %s ELSE %s END, data = CASE id WHEN %s THEN "
        f"{json_value} ELSE {json_value} END, occurred_at = CASE id WHEN %s THEN %s ELSE %s END, "
        "leaf = CASE id WHEN %s THEN %s ELSE %s END WHERE id IN (%s, %s)",
        [
            a.pk, b.target_id, a.target_id,
            a.pk, b.target_label, a.target_label,
            a.pk, _json(b.data), _json(a.data),
            a.pk, b.occurred_at, a.occurred_at,
            a.pk, b.leaf, a.leaf,
            a.pk, b.pk,
        ],
    )  # fmt: skip
    link = broken(org)
    assert link["kind"] == "reordered_rows" and link["event_id"] == a.pk
    assert link["swapped_with"] == b.pk and link["seal"] == 3


def _json(value) -> str:
    import json

    return json.dumps(value)


def test_a_deleted_seal_is_named(org, sealed):
    record(org, 2)
    seal_pass()
    tamper("DELETE FROM audit_auditseal WHERE org_key = %s AND seq = 3", [org.pk])
    link = broken(org)
    assert link["kind"] == "seal_missing" and link["seal"] == 3
    assert link["after_event_id"] == sealed[4].pk


def test_a_deleted_last_seal_is_noticed(org, sealed):
    tamper("DELETE FROM audit_auditseal WHERE org_key = %s AND seq = 3", [org.pk])
    link = broken(org)
    assert link["kind"] == "inserted_row" and link["event_id"] == sealed[5].pk


@pytest.mark.parametrize("column", ["root", "count", "bound_hi", "prev", "sealed_at"])
def test_an_edited_seal_is_named(org, sealed, column):
    value = {
        "root": "0" * 64,
        "count": 4,
        "bound_hi": 10**12,
        "prev": "f" * 64,
        "sealed_at": "2020-01-01 00:00:00+00:00",
    }[column]
    tamper(
        f"UPDATE audit_auditseal SET {column} = %s WHERE org_key = %s AND seq = 2", [value, org.pk]
    )
    link = broken(org)
    assert link["kind"] == "seal_edited" and link["seal"] == 2


def test_a_seal_re_signed_with_another_key_is_named(org, sealed, settings):
    forger = Ed25519PrivateKey.generate()
    seal = AuditSeal.objects.get(org_key=org.pk, seq=2)
    seal.root = "0" * 64
    body = ledger.seal_body({**seal_fields(seal), "key": ledger.key_id_of(forger.public_key())})
    signature = forger.sign(body)
    tamper(
        "UPDATE audit_auditseal SET root = %s, key_id = %s, signature = %s, hash = %s "
        "WHERE id = %s",
        [
            seal.root,
            ledger.key_id_of(forger.public_key()),
            signature,
            ledger.seal_hash(body, signature),
            seal.pk,
        ],
    )
    link = broken(org)
    assert link["kind"] == "seal_untrusted_key" and link["seal"] == 2


def test_a_rotated_key_keeps_old_seals_verifiable(org, sealed, settings):
    old_public = ledger.public_text(ledger.keys().signing.public_key())
    new = ledger.new_key()
    settings.GOVERNANCE_AUDIT_SIGNING_KEY = new["signing_key"]
    settings.GOVERNANCE_AUDIT_TRUSTED_KEYS = old_public
    record(org, 2)
    seal_pass()
    seals = list(AuditSeal.objects.filter(org_key=org.pk).order_by("seq"))
    assert seals[-1].key_id == new["key_id"] != seals[0].key_id
    assert verify(org.pk)["ok"]
    settings.GOVERNANCE_AUDIT_TRUSTED_KEYS = ""  # the old key forgotten: its seals fail
    assert broken(org)["kind"] == "seal_untrusted_key"


def test_unsealed_events_are_checked_against_their_own_leaf(org, sealed):
    late = record(org, 2)
    report = verify(org.pk)
    assert report["ok"] and report["unsealed_events"] == 2
    tamper("UPDATE audit_auditevent SET action = 'org.created' WHERE id = %s", [late[1].pk])
    link = broken(org)
    assert link["kind"] == "changed_row" and link["event_id"] == late[1].pk
    assert link["seal"] is None


def test_organizations_are_sealed_and_verified_apart(org, other_org):
    seal_pass()
    record(org, 3)
    record(other_org, 2)
    done = seal_pass()
    assert done == {**done, "events": 5, "seals": 2}
    tamper(
        "DELETE FROM audit_auditevent WHERE org_id = %s AND action = 'team.created'", [other_org.pk]
    )
    assert verify(org.pk)["ok"]
    assert broken(other_org)["kind"] == "deleted_row"


def test_an_event_whose_transaction_is_still_open_waits_for_the_next_pass(org):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers: no transaction stays open beside the sealer")
    seal_pass()
    record(org, 2)
    opened, release, done = threading.Event(), threading.Event(), threading.Event()

    def slow_writer():
        try:
            with transaction.atomic():
                audit_record(action="team.created", org=org, actor=None, data={"slow": True})
                opened.set()
                release.wait(10)
        finally:
            connections.close_all()
            done.set()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert opened.wait(10)
    record(org, 1)  # committed after the slow one began, with a larger id
    assert seal_pass()["events"] == 2  # the slow transaction holds back the bound
    release.set()
    assert done.wait(10)
    thread.join()
    assert seal_pass()["events"] == 2  # the slow event and the one after it
    report = verify(org.pk)
    assert report["ok"] and report["unsealed_events"] == 0


def test_rows_written_before_leaves_existed_are_sealed_from_their_fields(org):
    seal_pass()
    [event] = record(org, 1)
    tamper("UPDATE audit_auditevent SET leaf = '' WHERE id = %s", [event.pk])
    assert seal_pass()["events"] == 1
    assert verify(org.pk)["ok"]
    seal = AuditSeal.objects.filter(org_key=org.pk).latest("seq")
    assert seal.root == ledger.merkle_root([ledger.leaf(event.__dict__)]).hex()


def test_the_signing_key_comes_from_the_environment(settings):
    seed = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    settings.GOVERNANCE_AUDIT_SIGNING_KEY = base64.urlsafe_b64encode(seed).decode()
    keys = ledger.keys()
    assert (
        keys.signing.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        == seed
    )


def test_a_backlog_is_sealed_in_bounded_passes_and_a_big_transaction_whole(org, monkeypatch):
    from audit import sealing

    sealing.seal_all()
    monkeypatch.setattr(sealing, "MAX_PER_PASS", 3)
    record(org, 4)  # four transactions
    with transaction.atomic():  # one transaction larger than a pass
        for i in range(5):
            audit_record(action="team.created", org=org, actor=None, data={"big": i})
    record(org, 2)
    done = sealing.seal_all()
    assert done["events"] == 11 and done["passes"] >= 3
    assert sealing.seal_pass()["events"] == 0
    report = verify(org.pk)
    assert report["ok"] and report["unsealed_events"] == 0
