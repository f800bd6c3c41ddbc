"""The OpenAPI schema says exactly what the server does: schemathesis against a live server.

Every operation of `/api/schema/` (routes added later included: nothing here lists them) is run
through schemathesis' four phases with every check: generated requests the schema allows must
be accepted, ones it refuses must be refused, and every answer (status, headers, body) must be
one the schema documents. The stateful phase follows the schema's links (signup -> send ->
history, conversations -> sync).

It runs the `st` command, the same one a developer runs by hand: its engine runs the stateful
phase and the `filter_failure` hook (`contract_hooks.py`) with the others, and its JSON report
gives the counts asserted below. One run with a fixed seed in deterministic mode (the same
requests every time), then two with random seeds, printed for a replay.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from chatsite.testing import ARTIFACTS

pytestmark = [pytest.mark.contract, pytest.mark.django_db(transaction=True)]

ST = Path(sys.executable).with_name("st")
FIXED_SEED = 20261127
# Per operation. The fixed run takes about 50 s on two cores, each random one about 25 s.
FIXED_EXAMPLES = 100
RANDOM_EXAMPLES = 40


@pytest.fixture(scope="module")
def server(chat_server_factory):
    return chat_server_factory("eventlet")


@pytest.fixture
def access_token(server) -> str:
    """A user of its own for each run (the database is emptied after every test)."""
    password = "contract-probe-password-42"
    response = requests.post(
        server.url + "/api/auth/signup",
        json={
            "fullName": "Contract Probe",
            "username": f"probe-{random.randrange(10**9)}",
            "password": password,
            "confirmPassword": password,
        },
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()["access"]


def run_schemathesis(server, token: str, *arguments: str, name: str) -> dict:
    report = ARTIFACTS / f"schemathesis-{name}.json"
    log = ARTIFACTS / f"schemathesis-{name}.log"
    command = [
        str(ST), "run", server.url + "/api/schema/",
        "--checks", "all",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--header", f"Authorization: Bearer {token}",
        "--workers", "1",
        "--no-color",
        "--report", "json", "--report-json-path", str(report),
        *arguments,
    ]  # fmt: skip
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "chatsite.tests.contract_hooks"}
    with open(log, "w") as output:
        completed = subprocess.run(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, timeout=600, check=False
        )
    assert report.exists(), f"schemathesis wrote no report; see {log}"
    result = json.loads(report.read_text())
    result["returncode"] = completed.returncode
    result["log"] = str(log)
    return result


def operations_in_schema(server) -> int:
    schema = requests.get(
        server.url + "/api/schema/",
        headers={"Accept": "application/vnd.oai.openapi+json"},
        timeout=30,
    ).json()
    methods = {"get", "put", "post", "patch", "delete"}
    return sum(1 for path in schema["paths"].values() for method in path if method in methods)


def assert_no_failures(result: dict, expected_operations: int) -> None:
    where = f"see {result['log']}"
    assert result["failures"] == [], where
    assert result["errors"] == [], where
    assert result["returncode"] == 0, where
    assert result["complete"], where
    assert result["operations"]["tested"] == expected_operations, where
    assert result["test_cases"]["generated"] > 0
    for phase in ("coverage", "fuzzing", "stateful"):
        assert result["phases"][phase]["status"] == "success", (phase, where)


def test_the_schema_holds_with_a_fixed_seed(server, access_token):
    result = run_schemathesis(
        server,
        access_token,
        "--max-examples", str(FIXED_EXAMPLES),
        "--seed", str(FIXED_SEED),
        "--generation-deterministic",
        name="fixed",
    )  # fmt: skip

    assert_no_failures(result, operations_in_schema(server))


@pytest.mark.parametrize("run", [1, 2])
def test_the_schema_holds_with_random_seeds(server, access_token, run):
    # CONTRACT_SEED replays a run that failed (its seed is printed and in its log).
    seed = int(os.environ.get("CONTRACT_SEED") or random.SystemRandom().randrange(2**32))
    result = run_schemathesis(
        server,
        access_token,
        "--max-examples", str(RANDOM_EXAMPLES),
        "--seed", str(seed),
        "--generation-database", "none",  # no `.schemathesis/` left in the worktree
        name=f"random-{run}",
    )  # fmt: skip

    print(f"schemathesis seed {seed}")  # replay: st run ... --seed <seed>
    assert_no_failures(result, operations_in_schema(server))
