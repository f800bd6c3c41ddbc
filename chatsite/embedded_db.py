"""The embedded MongoDB-compatible database used when `MONGODB_URI` is unset.

SecantusDB runs as a separate process (`secantusd-py`); the product talks to it only over the
MongoDB wire protocol. This module has no Django imports so `manage.py` can start the database
before Django reads its settings.

A running embedded server records itself in `<var>/embedded-db.json`; other `manage.py`
commands started meanwhile (a second terminal running `createsuperuser`, say) reuse it instead
of opening the same data directory twice.

Whoever starts it hands its URI on with `environment(uri)`: `MONGODB_URI`, and the same URI in
`EMBEDDED_MONGODB_URI`, from which the settings know that the database is this one and turn on
its adapter (`chatsite.mongodb`). A `MONGODB_URI` set by hand to anything else gets the stock
backend.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

STARTUP_TIMEOUT = 60.0
EMBEDDED_URI_VARIABLE = "EMBEDDED_MONGODB_URI"
logger = logging.getLogger(__name__)


def environment(uri: str) -> dict[str, str]:
    """The variables that point the chat server at the embedded database listening on `uri`."""
    return {"MONGODB_URI": uri, EMBEDDED_URI_VARIABLE: uri}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _server_binary() -> str:
    local = Path(sys.executable).with_name("secantusd-py")
    if local.exists():
        return str(local)
    found = shutil.which("secantusd-py")
    if not found:
        raise RuntimeError("secantusd-py not found: install requirements.txt (SecantusDB).")
    return found


class EmbeddedDB:
    """One `secantusd-py` process listening on a loopback port."""

    def __init__(self, storage_path: str, port: int | None = None, log_path: str | None = None):
        self.storage_path = storage_path
        # On disk, a commit is acknowledged only once its log record is on disk: without this
        # SecantusDB answers first, and a kill -9 loses commits that clients were told about.
        self.sync_on_commit = storage_path != ":memory:"
        self.port = port or free_port()
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    @property
    def environment(self) -> dict[str, str]:
        return environment(self.uri)

    def start(self) -> EmbeddedDB:
        if self.storage_path != ":memory:":
            Path(self.storage_path).mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        cmd = [
            _server_binary(),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--storage-path", self.storage_path,
            "--log-level", "WARNING",
            *(["--sync-on-commit"] if self.sync_on_commit else []),
        ]  # fmt: skip
        # Its own process group: Ctrl-C in the terminal reaches our server, which then stops
        # the database in order instead of both dying at once.
        self.process = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"secantusd-py exited with {self.process.returncode}")
            if _port_open(self.port) and self._ping():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("secantusd-py did not start in time")

    def _ping(self) -> bool:
        import pymongo  # imported late: this module must stay cheap to import

        client = pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=1000)
        try:
            client.admin.command("ping")
            return True
        except pymongo.errors.PyMongoError:
            return False
        finally:
            client.close()

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the server cleanly (SIGTERM lets WiredTiger checkpoint), killing it if stuck."""
        if not self.process or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("secantusd-py did not stop within %s s; killed", timeout)
            self.process.kill()
            self.process.wait()


def var_dir(base_dir: Path) -> Path:
    """Where local state lives (the embedded database's data, the development secret key):
    `VAR_DIR`, or `var/` in the project."""
    return Path(os.environ.get("VAR_DIR") or base_dir / "var")


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def running(var_dir: Path) -> Iterator[str]:
    """Yield a URI for the embedded database under `var_dir`, starting it if needed."""
    state_file = var_dir / "embedded-db.json"
    with contextlib.suppress(FileNotFoundError, ValueError, KeyError):
        state = json.loads(state_file.read_text())
        if process_alive(state["pid"]) and _port_open(state["port"]):
            yield f"mongodb://127.0.0.1:{state['port']}/?directConnection=true"
            return
    var_dir.mkdir(parents=True, exist_ok=True)
    db = EmbeddedDB(str(var_dir / "db"), log_path=str(var_dir / "embedded-db.log")).start()
    state_file.write_text(json.dumps({"pid": db.process.pid, "port": db.port}))
    try:
        yield db.uri
    finally:
        with contextlib.suppress(FileNotFoundError):
            state_file.unlink()
        db.stop()
