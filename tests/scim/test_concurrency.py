"""Real concurrency on PostgreSQL: threads, each with its own connection, racing on one row."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from django.test import Client

from mapping.models import IdpGroupMember, IdpUser
from scim.services.tokens import scim_token_create
from tests.scim.conftest import PATCH_URN, Scim, okta_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _needs_postgres():
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: SQLite serialises all writers, so there is no race to "
            "test (make test runs this on PostgreSQL)"
        )


def race(n, fn):
    barrier = threading.Barrier(n)

    def run(i):
        try:
            barrier.wait()
            return fn(i)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_parallel_posts_of_one_user_name_give_one_201_and_409s(org, admin):
    _, secret = scim_token_create(org=org, actor=None)
    statuses = race(
        8,
        lambda i: (
            Scim(Client(), secret)(
                "POST", "/Users", okta_user("race@acme.example", externalId=f"x{i}")
            ).status_code
        ),
    )
    assert sorted(statuses) == [201] + [409] * 7
    assert IdpUser.objects.filter(user_name__iexact="race@acme.example").count() == 1


def test_concurrent_group_patches_lose_no_member(org, admin):
    _, secret = scim_token_create(org=org, actor=None)
    scim = Scim(Client(), secret)
    ids = [scim("POST", "/Users", okta_user(f"m{i}@acme.example")).json()["id"] for i in range(16)]
    gid = scim("POST", "/Groups", {"displayName": "Race"}).json()["id"]

    def add_two(i):
        return Scim(Client(), secret)(
            "PATCH",
            f"/Groups/{gid}",
            {
                "schemas": [PATCH_URN],
                "Operations": [
                    {"op": "replace", "value": {"id": gid, "displayName": "Race"}},
                    {
                        "op": "add",
                        "path": "members",
                        "value": [{"value": ids[2 * i]}, {"value": ids[2 * i + 1]}],
                    },
                ],
            },
        ).status_code

    assert race(8, add_two) == [204] * 8
    assert IdpGroupMember.objects.filter(group__uid=gid).count() == 16
