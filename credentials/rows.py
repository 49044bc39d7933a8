"""The runtime token endpoint's one read, written out (the third home of hand-written SQL, beside
core.rows and workspace.rows, kept for the same reason: a benchmark shows it is worth more than
10 % of a figure).

`POST /api/v1/credentials/token` runs whenever the runtime needs a member's token. Through the
ORM, its reads (the connection with its member, user and service; then the run) were two
statements and two query compilations. Measured 2026-11-30 on the bench database, 100 calls
in-process: 3.23 ms per call through the ORM, 1.97 ms with this one prepared statement. Over
HTTP with 4 clients (`make bench-credentials`): p95 13.32 ms before, 7.37 and 9.16 ms after
(two runs); gunicorn's CPU per token went from 3.15 to 1.7-1.9 ms.
tests/credentials/test_rows.py compares the instances with what the ORM returns.
"""

from __future__ import annotations

from typing import Any

from django.db import connections

from core.rows import _instance, _select_list, cursor
from credentials.models import CredentialService, ServiceConnection
from identity.models import User
from orgs.models import Membership
from workspace.models import Run

_MODELS = (ServiceConnection, Membership, User, CredentialService, Run)


def _sql(by_name: bool, using: str) -> str:
    qn = connections[using].ops.quote_name
    columns = ", ".join(
        _select_list(model, alias, using) for model, alias in zip(_MODELS, "cmusr", strict=True)
    )
    service = "s.name = %s" if by_name else "s.id = %s"
    # Names come from the models and are quoted; every value is a parameter.
    return (
        f"SELECT {columns} FROM {qn(ServiceConnection._meta.db_table)} c "  # noqa: S608
        f"JOIN {qn(Membership._meta.db_table)} m ON m.id = c.membership_id "
        f"JOIN {qn(User._meta.db_table)} u ON u.id = m.user_id "
        f"JOIN {qn(CredentialService._meta.db_table)} s ON s.id = c.service_id "
        f"LEFT JOIN {qn(Run._meta.db_table)} r ON r.id = %s AND r.org_id = c.org_id "
        f"WHERE c.org_id = %s AND c.membership_id = %s AND {service}"
    )


def connection_and_run(
    org: Any, member_id: int, service: int | str, run_id: int, using: str = "default"
) -> tuple[ServiceConnection, Run | None] | None:
    """The member's connection to the service (id or name) with its membership, user and
    service attached, and the organization's run (None when it has no such run); None when
    there is no such connection."""
    by_name = isinstance(service, str)
    with cursor(using) as cur:
        cur.execute(_sql(by_name, using), [run_id, org.pk, member_id, service])
        row = cur.fetchone()
    if row is None:
        return None
    parts: list[Any] = []
    start = 0
    for model in _MODELS:
        width = len(model._meta.concrete_fields)
        values = row[start : start + width]
        start += width
        parts.append(None if values[0] is None else _instance(model, values, using))
    connection, membership, user, service_row, run = parts
    membership.user = user
    membership.org = org
    service_row.org = org
    connection.membership = membership
    connection.service = service_row
    connection.org = org
    return connection, run
