"""The test run's own servers, as a pytest plugin (enabled in pyproject.toml).

- Before Django loads its settings, an in-memory SecantusDB starts on a free loopback port
  (or `TEST_MONGODB_URI` names a running MongoDB to use instead).
- `chat_server` starts the real chat server (`manage.py serve`) as a separate process on the
  test database, for API and realtime tests that talk to it over HTTP and Socket.IO; tests
  that use one are marked `live`.
- What keeps the tests without one quick: the flush after a database test puts back the
  migrated content types and permissions, and passwords hashed in this process use MD5.
- `wait_until(condition)`, for tests that need something to have happened before they go on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import monitoring

from chatsite.embedded_db import EmbeddedDB, free_port

BASE_DIR = Path(__file__).resolve().parent.parent
ARTIFACTS = BASE_DIR / "test-artifacts"
_embedded: list[EmbeddedDB] = []

# Generous limits so tests that are not about rate limiting never hit one.
TEST_ENVIRONMENT = {
    "DJANGO_ENV": "development",
    "DEBUG": "false",
    "LOGIN_RATE": "100000/minute",
    "SIGNUP_RATE": "100000/minute",
    "PASSWORD_RESET_RATE": "100000/minute",
    "PASSWORD_RESET_CONFIRM_RATE": "100000/minute",
    "PASSWORD_CHECK_RATE": "100000/minute",
    "EXPORT_RATE": "100000/minute",
    "SEND_RATE": "100000/minute",
    "REALTIME_EVENT_RATE": "100000/s",
    # Tests about other things watch strangers come and go; the default, "contacts", has its
    # own tests (realtime/tests/test_presence_fanout.py) and the demo page's run with it.
    "REALTIME_PRESENCE_FANOUT": "everyone",
}

# The start of a test script run as `python -c SCRIPT MODE` in a process of its own: the
# green-thread library MODE ("eventlet" or "gevent") patched in, its `spawn` and `sleep`.
GREEN_PROCESS = """
import sys
mode = sys.argv[1]
if mode == "eventlet":
    import eventlet
    eventlet.monkey_patch()
    spawn, sleep = eventlet.spawn, eventlet.sleep
else:
    from gevent import monkey
    monkey.patch_all()
    import gevent
    spawn, sleep = gevent.spawn, gevent.sleep
"""


def wait_until(condition: Callable[[], Any], *, timeout: float = 10, what: str = "") -> Any:
    """Poll `condition` until it returns something true, and return that; fail the test after
    `timeout` seconds. For an order the test needs (a thread queued, a message stored) instead
    of a `sleep` that hopes it is long enough."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout} s for {what or condition}", pytrace=False)
        time.sleep(0.005)
    return result


class _StatementLog(monitoring.CommandListener):
    """The names of the commands this process sends to the database while recording."""

    def __init__(self):
        self.names: list[str] | None = None
        self.commands: list[dict] | None = None
        self.thread: int | None = None  # only this thread's, when set

    def started(self, event):
        if self.thread is not None and threading.get_ident() != self.thread:
            return
        if self.names is not None:
            self.names.append(event.command_name)
        if self.commands is not None:
            self.commands.append(dict(event.command))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


_statement_log = _StatementLog()


@contextlib.contextmanager
def database_statements(*, this_thread: bool = False) -> Iterator[list[str]]:
    """Record the database commands sent inside the block (`find`, `update`, `insert`,
    `commitTransaction`...), in order: each one is a round trip. `this_thread`: only those
    the calling thread sends (not a background thread's)."""
    _statement_log.names = names = []
    _statement_log.thread = threading.get_ident() if this_thread else None
    try:
        yield names
    finally:
        _statement_log.names = None
        _statement_log.thread = None


@contextlib.contextmanager
def database_commands() -> Iterator[list[dict]]:
    """Record the database commands sent inside the block, whole (with their options)."""
    _statement_log.commands = commands = []
    try:
        yield commands
    finally:
        _statement_log.commands = None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # Before any client exists: pymongo gives listeners registered here to every client.
    monitoring.register(_statement_log)
    for name, value in TEST_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    if os.environ.get("TEST_MONGODB_URI"):
        os.environ["MONGODB_URI"] = os.environ["TEST_MONGODB_URI"]
    else:
        ARTIFACTS.mkdir(exist_ok=True)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        db = EmbeddedDB(":memory:", log_path=str(ARTIFACTS / f"secantusdb-{worker}.log")).start()
        _embedded.append(db)
        os.environ.update(db.environment)
    return (yield)


def pytest_unconfigure(config):
    while _embedded:
        _embedded.pop().stop()


# Fixtures that start real chat server processes: a test that uses one (directly or through
# another fixture) is marked `live`, which `make test-fast` leaves out.
LIVE_SERVER_FIXTURES = frozenset({"chat_server", "chat_server_factory", "start_server"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if LIVE_SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.live)


@pytest.fixture(scope="session")
def _flush_restores_migrated_rows(django_db_setup, django_db_blocker):
    """After each database test Django flushes every collection and sends `post_migrate`, whose
    receivers make the content types and permissions again: some 40 round trips, most of a
    small test's time on the embedded database (MongoDB has no transaction to roll back). For
    the rest of the session they are put back as `migrate` left them instead, in one insert
    each, under the same ids."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.management import create_contenttypes
    from django.contrib.contenttypes.models import ContentType
    from django.db.models.signals import post_migrate

    with django_db_blocker.unblock():
        content_types = list(ContentType.objects.all())
        permissions = list(Permission.objects.all())

    def restore(using, **kwargs):
        ContentType.objects.using(using).bulk_create(content_types)
        Permission.objects.using(using).bulk_create(permissions)
        ContentType.objects.clear_cache()

    auth_uid = "django.contrib.auth.management.create_permissions"
    post_migrate.disconnect(create_contenttypes)
    post_migrate.disconnect(dispatch_uid=auth_uid)
    contenttypes = apps.get_app_config("contenttypes")
    post_migrate.connect(restore, sender=contenttypes, dispatch_uid=__name__ + ".restore")
    yield
    post_migrate.disconnect(sender=contenttypes, dispatch_uid=__name__ + ".restore")
    post_migrate.connect(create_contenttypes)
    post_migrate.connect(create_permissions, dispatch_uid=auth_uid)


@pytest.fixture(autouse=True)
def _quick_flush(request):
    """`_flush_restores_migrated_rows` from the first test that uses the database on."""
    if request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(
        request.fixturenames
    ):
        request.getfixturevalue("_flush_restores_migrated_rows")


# Django's PBKDF2 is slow on purpose, and most tests make users.
FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def fast_password_hashing(settings):
    """Passwords hashed and checked in this process with a cheap hasher. Only for what this
    process alone checks: a chat server process keeps the real hashers, so it cannot log in
    with a password made here."""
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


@pytest.fixture(autouse=True)
def _fast_password_hashing_in_process(request):
    """`fast_password_hashing` for every test without a server process (`live`) or a
    `real_password_hasher` mark (the tests of the hasher itself)."""
    if not (
        request.node.get_closest_marker("live")
        or request.node.get_closest_marker("real_password_hasher")
    ):
        request.getfixturevalue("fast_password_hashing")


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters live in the cache; every test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield


class ChatServer:
    """A `manage.py serve` process on a free port. `start()` again after `stop()` restarts it
    on the same port. `extra_env` values of None remove the variable (e.g. `MONGODB_URI`, so
    that serve starts the embedded database itself); `migrate=True` lets serve migrate.
    `shares_port_with`: listen on another server's port beside it (both with `REUSE_PORT`)."""

    def __init__(
        self,
        database_name: str,
        async_mode: str,
        extra_env: dict | None = None,
        *,
        migrate: bool = False,
        shares_port_with: ChatServer | None = None,
    ):
        self.port = shares_port_with.port if shares_port_with else free_port()
        self.shares_port = shares_port_with is not None
        self.url = f"http://127.0.0.1:{self.port}"
        self.async_mode = async_mode
        self.migrate = migrate
        suffix = "-beside" if self.shares_port else ""
        self.log_path = ARTIFACTS / f"chat-server-{async_mode}-{self.port}{suffix}.log"
        env = {
            **os.environ,
            "MONGODB_NAME": database_name,
            "REALTIME_ASYNC_MODE": async_mode,
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.env = {name: value for name, value in env.items() if value is not None}
        self.process: subprocess.Popen | None = None

    def start(self) -> ChatServer:
        import requests

        ARTIFACTS.mkdir(exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115
        logged_before = self.log_path.stat().st_size
        self.process = subprocess.Popen(
            [sys.executable, str(BASE_DIR / "manage.py"), "serve",
             *([] if self.migrate else ["--no-migrate"]),
             "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=BASE_DIR,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chat server exited; see {self.log_path}")
            try:
                requests.get(self.url + "/healthz", timeout=1)
            except requests.ConnectionError:
                time.sleep(0.1)
                continue
            # On a shared port the other process may have answered: this one is up once it
            # says so (it listens before it does).
            if not self.shares_port or b"Chat server (" in self._log_since(logged_before):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"chat server did not start; see {self.log_path}")

    def _log_since(self, offset: int) -> bytes:
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            return log.read()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _database_name() -> str:
    from django.db import connection

    return connection.settings_dict["NAME"]


@pytest.fixture(scope="session", params=["eventlet", "gevent", "asgi"])
def chat_server(request, django_db_setup, django_db_blocker) -> Iterator[ChatServer]:
    """The real chat server under eventlet, under gevent and under ASGI (uvicorn)."""
    server = ChatServer(_database_name(), request.param).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chat_server_factory(django_db_setup):
    """Start extra servers (e.g. two processes sharing Redis); all are stopped at the end."""
    servers: list[ChatServer] = []

    def start(async_mode: str = "eventlet", **extra_env) -> ChatServer:
        server = ChatServer(_database_name(), async_mode, extra_env).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
