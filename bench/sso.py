"""SAML sign-in benchmark on PostgreSQL: `make bench-sso` (or `.venv/bin/python bench/sso.py`).

A fresh database `governance_bench_sso`, one organization whose IdP is pysaml2's own
`saml2.server.Server`, 1,000 members. Measures 300 SP-initiated sign-ins of different members
through the real views (Django test client): the ACS POST only (every check, xmlsec1 signature
verification, identity link on first sign-in, session), first sign-ins and repeat sign-ins,
with the queries of each. No target in the issue: the figures are for the README.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB = "governance_bench_sso"
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
MEMBERS, SIGN_INS = 1_000, 300
os.environ.update(
    {
        "DATABASE_URL": f"{PG}/{DB}",
        "DJANGO_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DJANGO_SETTINGS_MODULE": "governance.settings",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "GOVERNANCE_LOG_LEVEL": "WARNING",
    }
)


def main() -> None:
    import logging

    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    import django

    django.setup()
    logging.getLogger("saml2").setLevel(logging.WARNING)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from identity.models import User
    from orgs.models import Membership
    from orgs.selectors import domain_claim_get
    from orgs.services.domains import domain_verify, domains_set
    from orgs.services.orgs import org_create
    from sso.services.config import sso_connection_ensure, sso_saml_configure
    from tests.sso.saml_idp import Person, TestIdp, b64

    call_command("migrate", verbosity=0)
    org = org_create(slug="bench", name="Bench", actor=None)
    users = User.objects.bulk_create(
        User(email=f"m{i:04d}@bench.example", password="!") for i in range(MEMBERS)
    )
    Membership.objects.bulk_create(Membership(org=org, user=u) for u in users)
    sso_connection_ensure(org=org, actor=None)
    idp = TestIdp(sp_metadata=Client().get("/sso/saml/bench/metadata/").content.decode())
    sso_saml_configure(org=org, metadata_xml=idp.metadata(), actor=None)
    domains_set(org=org, domains=["bench.example"], actor=None)
    domain_verify(
        claim=domain_claim_get(org=org, domain="bench.example"), actor=None, skip_dns=True
    )
    acs = "http://testserver/sso/saml/bench/acs/"
    audience = "http://testserver/sso/saml/bench/metadata/"

    def sign_ins(label: str, people: list[User]) -> None:
        times, queries = [], []
        for user in people:
            client = Client()
            location = client.get("/sso/saml/bench/login/")["Location"]
            request = idp.read_request(location)
            xml = idp.respond(
                Person(user.email, user.email),
                in_response_to=request["id"],
                acs=acs,
                audience=audience,
            )
            body = {"SAMLResponse": b64(xml)}
            with CaptureQueriesContext(connection) as ctx:
                start = time.perf_counter()
                response = client.post("/sso/saml/bench/acs/", body)
                times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 302, response.content[:300]
            queries.append(sum(1 for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]))
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        print(
            f"{label:<34} n={len(times)}  p50 {statistics.median(times):6.1f} ms  "
            f"p95 {p95:6.1f} ms  SQL statements {min(queries)}-{max(queries)} (savepoints aside)"
        )

    import shutil
    import subprocess

    xmlsec = subprocess.run(
        [shutil.which("xmlsec1") or "xmlsec1", "--version"], capture_output=True, text=True
    ).stdout.strip()
    print(f"SAML ACS, {MEMBERS:,} members, PostgreSQL, {xmlsec}")
    sign_ins("first sign-in (links the identity)", users[:SIGN_INS])
    sign_ins("repeat sign-in", users[:SIGN_INS])


if __name__ == "__main__":
    main()
