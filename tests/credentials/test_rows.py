"""The token endpoint's written-out read (credentials.rows) returns what the ORM returns: the
same connection, member, user, service and run, every field, through the same converters."""

from __future__ import annotations

import pytest
from django.utils import timezone

from credentials.models import ServiceConnection
from credentials.rows import connection_and_run
from workspace.models import Run

pytestmark = pytest.mark.django_db


def _fields(obj):
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def test_the_written_out_read_matches_the_orm(org, analyst, snowflake, other_org):
    made = ServiceConnection.objects.create(
        org=org,
        membership=analyst,
        service=snowflake,
        status="connected",
        access_token="enc",
        expires_at=timezone.now(),
        scopes=["openid", "session:role:ANALYST"],
    )
    run = Run.objects.create(org=org, member=analyst, resource_name="R", trigger="api")
    for ref in (snowflake.pk, "Snowflake"):
        connection, got_run = connection_and_run(org, analyst.pk, ref, run.pk)
        orm = ServiceConnection.objects.select_related("membership__user", "service").get(
            pk=made.pk
        )
        assert _fields(connection) == _fields(orm)
        assert _fields(connection.membership) == _fields(orm.membership)
        assert _fields(connection.membership.user) == _fields(orm.membership.user)
        assert _fields(connection.service) == _fields(orm.service)
        assert _fields(got_run) == _fields(Run.objects.get(pk=run.pk))
    theirs = Run.objects.create(org=other_org, resource_name="T", trigger="api")
    assert connection_and_run(org, analyst.pk, "Snowflake", theirs.pk)[1] is None  # not ours
    assert connection_and_run(other_org, analyst.pk, "Snowflake", run.pk) is None
    assert connection_and_run(org, analyst.pk, "Databricks", run.pk) is None
