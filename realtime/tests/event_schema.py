"""The event contract of docs/realtime.md as a checker: `docs/realtime-events.schema.json` holds
a JSON Schema (draft 2020-12) for the payload of every server → client event and for the ack of
every client → server event; `event_problem` and `ack_problem` say why a payload breaks it."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "realtime-events.schema.json"


@cache
def document() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def server_event_names() -> set[str]:
    return set(document()["$defs"]["serverEvents"]["$defs"])


def client_event_names() -> set[str]:
    return set(document()["$defs"]["acks"]["$defs"])


@cache
def _validator(pointer: str) -> Draft202012Validator:
    # `evolve` keeps the document's resolver, so the definition's own `$ref`s resolve in it.
    root = Draft202012Validator(document(), format_checker=Draft202012Validator.FORMAT_CHECKER)
    return root.evolve(schema={"$ref": f"#/$defs/{pointer}"})


def _problem(what: str, payload: Any, pointer: str) -> str | None:
    error = best_match(_validator(pointer).iter_errors(payload))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(the payload)"
    return f"{what} {payload!r} breaks #/$defs/{pointer} at {where}: {error.message}"


def event_problem(event: str, args: tuple) -> str | None:
    """Why the server → client event `event` with arguments `args` is not what the contract
    says, or None if it is."""
    if event not in server_event_names():
        return f"event {event!r} is not in the contract (docs/realtime.md), args {args!r}"
    if len(args) != 1:
        return f"event {event!r} carries {len(args)} arguments, not one: {args!r}"
    return _problem(f"event {event!r}", args[0], f"serverEvents/$defs/{event}")


def ack_problem(event: str, ack: Any) -> str | None:
    """Why the server's ack of the client → server event `event` is not what the contract says,
    or None if it is. An event outside the contract (a test sending garbage on purpose) must
    still be answered with the `unknown_event`/`invalid_event` error ack."""
    if event in client_event_names():
        return _problem(f"ack of {event!r}", ack, f"acks/$defs/{event}")
    return _problem(f"ack of {str(event)[:64]!r} (no such event)", ack, "unknownEventAck")
