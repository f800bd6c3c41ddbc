"""Settings read from the environment: a value that cannot work stops the process at start
with a message naming the variable, instead of failing later under load."""

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _check(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "chatsite.settings", **env},
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"REALTIME_ASGI_HANDLER_THREADS": "0"},
            "REALTIME_ASGI_HANDLER_THREADS must be at least 1",
        ),
        (
            {"REALTIME_ASGI_HANDLER_THREADS": "many"},
            "REALTIME_ASGI_HANDLER_THREADS must be a whole",
        ),
    ],
)
def test_an_impossible_setting_stops_the_process_with_its_name(env, message):
    result = _check(**env)
    assert result.returncode != 0
    assert message in result.stderr
