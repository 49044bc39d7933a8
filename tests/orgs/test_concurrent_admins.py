"""Two admins demoting (or deactivating) each other at the same moment, on PostgreSQL with real
threads: locks are taken in one order (organization row, then membership rows), so nobody
deadlocks; the loser gets 409 (or 403 when its request came in after the other change had
already made it a plain member), and the organization keeps exactly one admin."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client

from orgs.choices import RbacRole
from orgs.models import Membership
from orgs.services.api_keys import api_key_create

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 8


def race(calls: list[tuple[str, str, dict | None, str]]) -> list[int]:
    barrier = threading.Barrier(len(calls))
    statuses: list[int] = [0] * len(calls)

    def run(i: int, method: str, path: str, body: dict | None, key: str) -> None:
        try:
            client = Client()
            barrier.wait()
            response = getattr(client, method)(
                path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
            )
            statuses[i] = response.status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, *call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return statuses


@pytest.mark.parametrize("how", ["demote", "deactivate"])
def test_admins_acting_on_each_other_at_once_never_500(on_postgres, make_org, make_member, how):
    if not on_postgres:
        pytest.skip("row locks and deadlocks are PostgreSQL's; SQLite serializes all writes")
    for n in range(ROUNDS):
        org = make_org(f"race{n}")
        x = make_member(org, f"x{n}@race.example", RbacRole.ADMIN, password=None)
        y = make_member(org, f"y{n}@race.example", RbacRole.ADMIN, password=None)
        _, x_key = api_key_create(membership=x, actor=None)
        _, y_key = api_key_create(membership=y, actor=None)

        def call(target: Membership, key: str) -> tuple[str, str, dict | None, str]:
            if how == "demote":
                return ("patch", f"/api/v1/members/{target.pk}/", {"role": "member"}, key)
            return ("post", f"/api/v1/members/{target.pk}/deactivate/", None, key)

        statuses = race([call(y, x_key), call(x, y_key)])
        assert sorted(statuses) in ([200, 403], [200, 409]), statuses
        admins = Membership.objects.filter(org=org, role=RbacRole.ADMIN, is_active=True)
        assert admins.count() == 1


@pytest.mark.django_db
def test_a_request_authenticated_as_admin_that_lost_the_role_meanwhile_gets_409(
    org, admin, make_member
):
    """What the loser of the race meets, without threads: its key was authenticated while its
    member was an admin; the other change made them a plain member before this one ran."""
    from core.exceptions import Conflict
    from orgs.models import ApiKey
    from orgs.services.members import membership_change_role

    other = make_member(org, "other@acme.example", RbacRole.ADMIN, password=None)
    api_key_create(membership=other, actor=None)
    key = ApiKey.objects.select_related("membership__org").get(membership=other)  # authenticated
    membership_change_role(membership=other, role=RbacRole.MEMBER, actor=admin.user)  # the winner
    with pytest.raises(Conflict, match="changed while this request waited"):
        membership_change_role(membership=admin, role=RbacRole.MEMBER, actor=key)
    admin.refresh_from_db()
    assert admin.role == RbacRole.ADMIN
