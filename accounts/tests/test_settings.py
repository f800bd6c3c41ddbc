"""Production settings: `check --deploy` is clean, and unsafe configurations refuse to start.

Each case runs `manage.py` in a fresh process, since settings are read once at import."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
PYTHON = BASE_DIR / ".venv" / "bin" / "python"


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ENV"}
    }
    environment.update(env)
    python = PYTHON if PYTHON.exists() else Path(sys.executable)
    return subprocess.run(
        [str(python), "manage.py", *args],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production(**overrides: str) -> dict[str, str]:
    return {
        "DJANGO_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "chat.example.com",
        "MONGODB_URI": os.environ["MONGODB_URI"],
        **overrides,
    }


def test_check_deploy_is_clean_in_production():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **production())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    assert "WARNINGS" not in result.stderr


def test_production_refuses_to_start_without_secret_key():
    env = production()
    del env["SECRET_KEY"]

    result = manage("check", **env)

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_to_start_with_debug_on():
    result = manage("check", **production(DEBUG="true"))

    assert result.returncode != 0
    assert "DEBUG" in result.stderr


def test_production_refuses_to_start_with_fault_hooks_on():
    result = manage("check", **production(CHAT_FAULT_HOOKS="true"))

    assert result.returncode != 0
    assert "CHAT_FAULT_HOOKS" in result.stderr


def test_a_presence_node_timeout_past_the_counts_ttl_refuses_to_start():
    """The survivors must take a dead process's counts before they expire unannounced."""
    result = manage("check", **production(REALTIME_PRESENCE_NODE_TIMEOUT_SECONDS="60"))

    assert result.returncode != 0
    assert "REALTIME_PRESENCE_NODE_TIMEOUT_SECONDS" in result.stderr


def test_development_settings_fail_the_deploy_check():
    """The check does look: without the production rules it finds problems."""
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", DJANGO_ENV="development",
        DEBUG="true", MONGODB_URI=os.environ["MONGODB_URI"],
    )  # fmt: skip

    assert result.returncode != 0
    assert "security.W018" in result.stderr  # DEBUG on
