"""The OpenAPI document under concurrent first requests: a fresh process (the schema generator
loads its extensions lazily, once per process) answers eight requests that arrive together.
Before the lock in governance.views.ApiSchemaView, seven of eight answered 500."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, threading
import django
django.setup()
from django.urls import resolve
from rest_framework.test import APIRequestFactory

view = resolve("/api/schema/").func
factory = APIRequestFactory()
together = threading.Barrier(8)
answers = []

def ask():
    together.wait()
    try:
        response = view(factory.get("/api/schema/", HTTP_ACCEPT="application/json"))
        response.render()
        answers.append([response.status_code, len(json.loads(response.content)["paths"])])
    except Exception as exc:
        answers.append([repr(exc)[:200], 0])

threads = [threading.Thread(target=ask) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps(answers))
"""


def test_eight_first_schema_requests_at_once_in_a_fresh_process_all_answer():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    assert [status for status, _ in answers] == [200] * 8, answers
    paths = {count for _, count in answers}
    assert len(paths) == 1 and paths.pop() > 50, answers  # the same, whole document each time
