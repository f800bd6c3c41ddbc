"""What an edit, a delete and a reaction cost beside a send, through the services.

    .venv/bin/python bench/message_actions.py [--repeat 300] [--json out.json]

Starts its own in-memory SecantusDB, migrates, and runs each action `--repeat` times in one
direct conversation, in this process (no HTTP, no sockets: the service call, its transaction
and the after-commit signal), each on a message of its own. Reports per action: database
commands (counted by a pymongo command listener, the transaction's commit included), this
process's CPU, the database process's CPU and the wall time, median and p99.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from pymongo import monitoring  # noqa: E402

from chatsite.embedded_db import EmbeddedDB  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class CommandCounter(monitoring.CommandListener):
    def __init__(self):
        self.commands: Counter[str] = Counter()

    def started(self, event):
        self.commands[event.command_name] += 1

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    counter = CommandCounter()
    monitoring.register(counter)  # before Django's client is made
    db = EmbeddedDB(":memory:").start()
    os.environ.update(db.environment, MONGODB_NAME="bench_actions", DEBUG="false")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    try:
        results = run(args.repeat, counter, db.process.pid)
    finally:
        db.stop()
    header = ("db commands", "CPU ms", "db CPU ms", "p50 ms", "p99 ms")
    print(f"{'action':10} {header[0]:>12} " + " ".join(f"{h:>10}" for h in header[1:]))
    for name, r in results.items():
        print(
            f"{name:10} {r['db_commands']:>12.1f} {r['cpu_ms']:>10.2f} {r['db_cpu_ms']:>10.2f} "
            f"{r['p50_ms']:>10.2f} {r['p99_ms']:>10.2f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def run(repeat: int, counter: CommandCounter, db_pid: int) -> dict:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from accounts.models import User
    from messaging import selectors, services

    settings.CHAT = {**settings.CHAT, "MESSAGE_EDIT_WINDOW_SECONDS": 0}
    call_command("migrate", verbosity=0)
    alice = User.objects.create_user("alice", "pw-123456789", full_name="Alice")
    bob = User.objects.create_user("bob", "pw-123456789", full_name="Bob")
    messages = [
        services.message_send(sender=alice, receiver=bob, body=f"m{n}") for n in range(repeat)
    ]

    def fresh(n: int):
        # What the API and the socket handler do first: the selector's read is part of the cost.
        return selectors.message_get_for_user(user=alice, message_id=str(messages[n].pk))

    actions = {
        "send": lambda n: services.message_send(sender=alice, receiver=bob, body=f"s{n}"),
        "edit": lambda n: services.message_edit(message=fresh(n), user=alice, body=f"e{n}"),
        "react": lambda n: services.message_react(message=fresh(n), user=alice, emoji="👍"),
        "unreact": lambda n: services.message_unreact(message=fresh(n), user=alice, emoji="👍"),
        "delete": lambda n: services.message_delete(message=fresh(n), user=alice),
    }
    results = {}
    for name, action in actions.items():
        for n in range(min(20, repeat)):  # warm up (the send of a new message: any)
            if name == "send":
                action(n)
        counter.commands.clear()
        walls = []
        cpu, db_cpu = time.process_time(), process_cpu_seconds(db_pid)
        for n in range(repeat):
            started = time.perf_counter()
            action(n)
            walls.append((time.perf_counter() - started) * 1000)
        cpu, db_cpu = time.process_time() - cpu, process_cpu_seconds(db_pid) - db_cpu
        walls.sort()
        results[name] = {
            "db_commands": sum(counter.commands.values()) / repeat,
            "commands": {k: v / repeat for k, v in sorted(counter.commands.items())},
            "cpu_ms": cpu * 1000 / repeat,
            "db_cpu_ms": db_cpu * 1000 / repeat,
            "p50_ms": statistics.median(walls),
            "p99_ms": walls[min(len(walls) - 1, int(len(walls) * 0.99))],
        }
    return results


if __name__ == "__main__":
    main()
