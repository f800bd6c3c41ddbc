"""nginx with the shipped configuration (deploy/nginx/chat.conf, as it is) in front of chat
server processes, for the tests and the benchmark: run as the current user, with its prefix,
temporary files, pid and logs in a directory of its own, listening on a free loopback port."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from chatsite.embedded_db import free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "nginx"
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")


def upstreams_conf(processes: dict[str, str]) -> str:
    """chat-upstreams.conf for `processes` (name → host:port), as the shipped example writes
    it for three."""
    lines = ["upstream chat_any {", *(f"    server {a};" for a in processes.values()), "}"]
    for name, address in processes.items():
        lines += [f"upstream chat_{name} {{", f"    server {address};"]
        lines += [f"    server {other} backup;" for other in processes.values() if other != address]
        lines.append("}")
    lines += ["map $cookie_chat_node $chat_upstream {", "    default chat_any;"]
    lines += [f"    {name} chat_{name};" for name in processes]
    lines += ["}", "map $upstream_addr $chat_node {", '    default "";']
    lines += [f'    "~(^|\\s){re.escape(a)}$" {name};' for name, a in processes.items()]
    lines.append("}")
    return "\n".join(lines) + "\n"


class Nginx:
    """`Nginx(directory, {name: "host:port"}).start()`; `stop()` ends it."""

    def __init__(self, directory: Path, processes: dict[str, str]):
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = directory / "access.log"
        shutil.copy(DEPLOY / "chat.conf", directory / "chat.conf")
        (directory / "chat-upstreams.conf").write_text(upstreams_conf(processes))
        (directory / "chat-listen.conf").write_text(
            f"listen 127.0.0.1:{self.port};\naccess_log {self.access_log} chat;\n"
        )
        temporary = " ".join(
            f"{kind}_temp_path {directory / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        # As root the workers would become `nobody`, who can't enter this directory.
        user = f"user {pwd.getpwuid(0).pw_name};" if os.getuid() == 0 else ""
        (directory / "nginx.conf").write_text(
            f"daemon off; worker_processes 1; pid {directory / 'nginx.pid'}; {user}\n"
            f"error_log {directory / 'error.log'} warn;\n"
            "events { worker_connections 8192; }\n"
            f"http {{ {temporary}\n  include chat.conf;\n}}\n"
        )
        self.process: subprocess.Popen | None = None

    def command(self, *arguments: str) -> list[str]:
        return [
            NGINX, "-p", str(self.directory), "-c", str(self.directory / "nginx.conf"),
            "-e", str(self.directory / "error.log"), *arguments,
        ]  # fmt: skip

    def start(self) -> Nginx:
        checked = subprocess.run(self.command("-t"), capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        self.process = subprocess.Popen(self.command(), stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"nginx did not start; see {self.directory}/error.log"
                    ) from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def placements(self) -> dict[str, set[str]]:
        """Engine.IO session id → the processes that answered its requests (the access log)."""
        placed: dict[str, set[str]] = {}
        for line in self.access_log.read_text().splitlines():
            found = re.search(r" sid=(\S+) upstream=\S+ node=(\S+)$", line)
            if found:
                placed.setdefault(found[1], set()).add(found[2])
        return placed
