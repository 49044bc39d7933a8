"""Schemathesis over /api/schema/: every operation of the REST API, stateless, with an admin's
API key, against the real server on loopback. Zero 5xx, and every documented response matches
its schema. (The CLI runs in a subprocess against pytest-django's live server and test
database; its report is kept under test-artifacts/.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from orgs.services.api_keys import api_key_create
from orgs.services.roles import custom_role_create
from orgs.services.service_keys import service_key_create
from orgs.services.teams import team_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


REVOKE_KEY = "DELETE /api/v1/api-keys/{id}/"
# The members' operations by their first path segment, in three groups of about 30: two named,
# and everything else.
_A = "credentials|retention|sso"
_B = "audit-streams|audit-events|members|scim|teams"
GROUPS = (
    ("a", f"^/api/v1/({_A})/"),
    ("b", f"^/api/v1/({_B})/"),
    ("c", f"^/api/v1/(?!({_A}|{_B})/)"),
)
RUNTIME = (
    "^/api/v1/(authorize|runs|credentials/token)"  # the runtime's endpoints: service keys only
)


def start(url: str, key: str, report: str, *selection: str) -> tuple[subprocess.Popen, str]:
    st = Path(sys.executable).with_name("st")
    command = [
        str(st),
        "run",
        f"{url}/api/schema/",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        "not_a_server_error,response_schema_conformance,content_type_conformance",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "6",
        "--seed",
        "20261129",
        "--request-timeout",
        "10",
        "--report",
        "junit",
        "--report-junit-path",
        str(ARTIFACTS / f"schemathesis-{report}.xml"),
        "--no-color",
        *selection,
    ]
    out = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT
    )
    return out, report


def finish(started: tuple[subprocess.Popen, str]) -> str:
    process, report = started
    try:
        output, _ = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    (ARTIFACTS / f"schemathesis-{report}.txt").write_text(output)
    assert process.returncode == 0, output[-6000:]
    assert "401 Unauthorized" not in output, "the run lost its key half-way:\n" + output[-3000:]
    return output


def run(url: str, key: str, report: str, *selection: str) -> str:
    return finish(start(url, key, report, *selection))


def test_every_api_operation_never_5xx_and_matches_its_schema(live_server, org, admin, on_postgres):
    if not on_postgres:
        pytest.skip("runs once, on PostgreSQL (production's database): make test runs it there")
    # Things for the operations to find. The admin is the organization's only member, so no
    # fuzzed request can promote someone else and then demote or deactivate the key's owner
    # (the last admin is kept). The runtime's endpoints run with a service key. Revoking an API
    # key (the caller's own keys only) runs last, on its own, with a second key, since it may
    # revoke the very key it is called with.
    custom_role_create(org=org, name="Builder", permissions=["agents.run"], actor=None)
    team_create(org=org, name="Data", actor=None)
    _, key = api_key_create(membership=admin, actor=None)
    _, last_key = api_key_create(membership=admin, actor=None)
    _, service_key = service_key_create(org=org, label="runtime", actor=None)
    ARTIFACTS.mkdir(exist_ok=True)
    # The members' operations in three groups and the runtime's, each a process of its own, at
    # once: a run spends most of its time waiting on the server (the CLI's own --workers are
    # threads, and Hypothesis's lambda descriptions are not thread-safe on Python 3.11).
    runs = [
        start(
            live_server.url,
            key,
            f"members-{name}",
            "--include-path-regex",
            regex,
            "--exclude-name",
            REVOKE_KEY,
            "--exclude-path-regex",
            RUNTIME,
        )
        for name, regex in GROUPS
    ]
    runs.append(start(live_server.url, service_key, "runtime", "--include-path-regex", RUNTIME))
    try:
        outputs = [finish(started) for started in runs]
    finally:
        for process, _ in runs:  # none left running against a server that is going away
            if process.poll() is None:
                process.kill()
                process.wait()
    revoke = run(live_server.url, last_key, "revoke", "--include-name", REVOKE_KEY)
    outputs.append(revoke)
    selected = [
        int(re.search(r"Operations:\s+(\d+) selected / (\d+) total", out)[1]) for out in outputs
    ]
    total = int(re.search(r"selected / (\d+) total", revoke)[1])
    assert sum(selected) == total and min(selected) >= 1, selected  # every operation, once
