#!/usr/bin/env python
"""Django's command-line utility, plus the chat server's entry point (`manage.py serve`)."""

import contextlib
import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
# Commands that never touch the database run without starting the embedded one.
NO_DATABASE_COMMANDS = {"", "help", "collectstatic", "version"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "serve":
        # Monkey-patching must happen before anything imports socket, threading or ssl.
        from realtime.patching import patch_for_async_mode

        patch_for_async_mode(os.environ.get("REALTIME_ASYNC_MODE", "eventlet"))

    from chatsite import embedded_db

    database = contextlib.nullcontext()
    if not os.environ.get("MONGODB_URI") and command not in NO_DATABASE_COMMANDS:
        database = embedded_db.running(embedded_db.var_dir(BASE_DIR))
    with database as uri:
        if uri:
            os.environ.update(embedded_db.environment(uri))
        from django.core.management import execute_from_command_line

        execute_from_command_line(sys.argv)
    if command == "serve":
        # Stopped cleanly, the embedded database too: leave without CPython freeing the
        # objects of every socket the server held one by one (0.9 s with 5,000; clients wait
        # for the next process meanwhile: docs/benchmarks.md, "Storms, continued").
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
