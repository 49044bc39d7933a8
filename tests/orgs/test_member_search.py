"""Member pickers search as you type: the team page lists no members to pick from, the search
answers at most 20 matches (two characters at least) from this organization only, in a constant
number of queries, and adding to a team takes the chosen e-mail."""

from __future__ import annotations

import pytest

from identity.models import User
from orgs.models import Membership, TeamMembership
from orgs.services.teams import team_create

pytestmark = pytest.mark.django_db


def test_search_answers_few_matches_from_this_org_only(
    admin_client, org, other_org, make_member, django_assert_max_num_queries
):
    users = User.objects.bulk_create(
        User(email=f"user{i:05d}@acme.example", password="!") for i in range(2000)
    )
    Membership.objects.bulk_create(Membership(org=org, user=u) for u in users)
    make_member(other_org, "userxyz@acme.example")
    admin_client.get("/o/acme/members/search/?q=us")
    with django_assert_max_num_queries(8):
        r = admin_client.get("/o/acme/members/search/?q=user0001")
    emails = [m["email"] for m in r.json()["results"]]
    assert len(emails) == 10 and all(e.startswith("user0001") for e in emails)
    assert len(admin_client.get("/o/acme/members/search/?q=user").json()["results"]) == 20
    assert admin_client.get("/o/acme/members/search/?q=u").json()["results"] == []
    assert admin_client.get("/o/acme/members/search/?q=userxyz").json()["results"] == []


def test_the_team_page_adds_by_email_and_lists_nobody_to_pick(admin_client, org, member):
    team = team_create(org=org, name="Data", actor=None)
    page = admin_client.get(f"/o/acme/teams/{team.pk}/").content.decode()
    assert "member@acme.example" not in page and "data-member-search" in page
    r = admin_client.post(
        f"/o/acme/teams/{team.pk}/members/add/",
        {"member_email": "MEMBER@acme.example"},
        follow=True,
    )
    assert "joined Data" in r.content.decode()
    assert TeamMembership.objects.filter(team=team, membership=member).exists()
    r = admin_client.post(
        f"/o/acme/teams/{team.pk}/members/add/", {"member_email": "ghost@acme.example"}, follow=True
    )
    assert "does not exist" in r.content.decode()
