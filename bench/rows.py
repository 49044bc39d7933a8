"""Hand-written SQL (core.rows) against the ORM, in one run: `make bench-rows`.

For each statement core.rows writes out by hand, the same read or write through the ORM, in
this process on PostgreSQL as CPU time (time.thread_time) per call, the two variants
interleaved in rounds so that a slower minute of a shared machine hurts both alike. Beside
them, the CPU of one whole SCIM create (POST /scim/v2/Users through the WSGI handler) and of one
`userName eq` lookup, measured the same way in the same run: a statement is worth writing by
hand when what it saves is more than 10 % of one of those.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB = "governance_bench_rows"
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
os.environ.update(
    {
        "DATABASE_URL": f"{PG}/{DB}",
        "DJANGO_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DJANGO_SETTINGS_MODULE": "governance.settings",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "GOVERNANCE_SCIM_RATE_LIMIT": "100000000",
        "GOVERNANCE_LOG_LEVEL": "WARNING",
    }
)
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
CALLS = int(os.environ.get("BENCH_CALLS", "300"))
THRESHOLD = 0.10


def fresh_database() -> None:
    for sql in (f"DROP DATABASE IF EXISTS {DB}", f"CREATE DATABASE {DB}"):
        subprocess.run(["psql", PG + "/postgres", "-qc", sql], check=True, capture_output=True)


def per_call_ms(fn: Callable[[int], None], calls: int = CALLS) -> float:
    start = time.thread_time()
    for i in range(calls):
        fn(i)
    return (time.thread_time() - start) * 1000 / calls


def main() -> None:
    fresh_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from audit.choices import AuditAction
    from audit.models import AuditEvent
    from identity.models import User
    from identity.selectors import user_by_email
    from orgs.services.orgs import org_create
    from scim.models import ScimToken
    from scim.selectors import scim_token_by_prefix
    from scim.services.tokens import scim_token_create

    call_command("migrate", verbosity=0)
    org = org_create(slug="bench", name="Bench", actor=None)
    token, secret = scim_token_create(org=org, label="bench", actor=None)
    users = User.objects.bulk_create(
        User(email=f"u{i:05d}@bench.example", password="!") for i in range(5000)
    )
    emails = [u.email.upper() for u in users]

    def event(i: int) -> AuditEvent:
        return AuditEvent(
            org_id=org.pk,
            action=AuditAction.MEMBER_ADDED,
            actor_kind="scim_token",
            actor_id=str(token.pk),
            actor_label="SCIM token bench",
            target_type="membership",
            target_id=str(i),
            target_label=f"m{i}@bench.example",
            data={"new": {"email": f"m{i}@bench.example", "role": "member"}},
        )

    pairs: dict[str, tuple[Callable[[int], None], Callable[[int], None]]] = {
        "SCIM token by prefix, with its org (every SCIM request)": (
            lambda i: scim_token_by_prefix(token.prefix),
            lambda i: ScimToken.objects.select_related("org").filter(prefix=token.prefix).first(),
        ),
        "user by e-mail, LOWER(email) (every SCIM create, password sign-in)": (
            lambda i: user_by_email(emails[i]),
            lambda i: User.objects.filter(email__lower=emails[i].lower()).first(),
        ),
    }

    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    created = iter(range(10**9))

    def scim_create(i: int) -> None:
        n = next(created)
        body = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": f"new{n}@bench.example",
            "name": {"givenName": "New", "familyName": str(n)},
            "emails": [{"primary": True, "value": f"new{n}@bench.example", "type": "work"}],
            "active": True,
        }
        r = client.post(
            "/scim/v2/Users", json.dumps(body), content_type="application/scim+json", **auth
        )
        assert r.status_code == 201, r.content

    def scim_lookup(i: int) -> None:
        # Okta's existence check, for a user the warm-up created (upper-cased, as Okta may).
        r = client.get(f'/scim/v2/Users?filter=userName eq "NEW{i % 50}@BENCH.EXAMPLE"', **auth)
        assert r.status_code == 200, r.content

    for _ in range(50):  # warm caches, compiled regexes, connection
        scim_create(0)
        scim_lookup(0)
        for hand, orm in pairs.values():
            hand(0)
            orm(0)

    samples: dict[str, dict[str, list[float]]] = {k: {"hand": [], "orm": []} for k in pairs}
    whole: dict[str, list[float]] = {"create": [], "lookup": []}
    for r in range(ROUNDS):
        for name, (hand, orm) in pairs.items():
            order = [("hand", hand), ("orm", orm)] if r % 2 == 0 else [("orm", orm), ("hand", hand)]
            for label, fn in order:
                samples[name][label].append(per_call_ms(fn))
        whole["create"].append(per_call_ms(scim_create, 100))
        whole["lookup"].append(per_call_ms(scim_lookup, 200))

    create_ms = statistics.median(whole["create"])
    lookup_ms = statistics.median(whole["lookup"])
    print(f"rounds: {ROUNDS} x {CALLS} calls, CPU ms per call (median of rounds)\n")
    print(f"whole SCIM create (WSGI, in process): {create_ms:.3f} ms")
    print(f"whole userName eq lookup (WSGI, in process): {lookup_ms:.3f} ms\n")
    report = {"create_ms": round(create_ms, 3), "lookup_ms": round(lookup_ms, 3), "uses": {}}
    print(f"{'statement':78} {'hand':>7} {'ORM':>7} {'saves':>7} {'create':>7} {'lookup':>7}")
    for name in pairs:
        hand = statistics.median(samples[name]["hand"])
        orm = statistics.median(samples[name]["orm"])
        saved = orm - hand
        of_create = saved / create_ms
        # The token read runs on every request, the lookup included; the others do not.
        of_lookup = saved / lookup_ms if name.startswith("SCIM token") else 0.0
        keep = max(of_create, of_lookup) > THRESHOLD
        print(
            f"{name:78} {hand:7.3f} {orm:7.3f} {saved:7.3f} {of_create:7.1%} {of_lookup:7.1%}"
            f"  {'keep' if keep else 'ORM is enough'}"
        )
        report["uses"][name] = {
            "hand_ms": round(hand, 3),
            "orm_ms": round(orm, 3),
            "saved_of_create": round(of_create, 3),
            "saved_of_lookup": round(of_lookup, 3),
            "keep": keep,
        }
    print("\n" + json.dumps(report))


if __name__ == "__main__":
    main()
