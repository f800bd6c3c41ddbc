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


def ack_problem(event: object, ack: Any) -> str | None:
    """Why the server's ack of the client → server event `event` is not what the contract says,
    or None if it is. An event outside the contract (a test sending garbage on purpose) must
    still be answered with the `unknown_event`/`invalid_event` error ack."""
    if isinstance(event, str) and event in client_event_names():
        return _problem(f"ack of {event!r}", ack, f"acks/$defs/{event}")
    return _problem(f"ack of {str(event)[:64]!r} (no such event)", ack, "unknownEventAck")


def frame_problem(frame: str | bytes, acks: dict[int, Any]) -> str | None:
    """Why a WebSocket frame the server sent breaks the contract, or None; for the tests' bare
    WebSocket clients. Only Socket.IO EVENT (`42[...]`) and ACK (`43<id>[...]`) packets of the
    default namespace carry payloads; `acks` names the event each ack id was sent with (an ack
    of an id sent some other way is not checked)."""
    if not isinstance(frame, str):
        return None
    if frame.startswith("42["):
        try:
            event, *args = json.loads(frame[2:])
        except (ValueError, TypeError):
            return f"an EVENT packet that is not a JSON array with a name: {frame[:200]!r}"
        if not isinstance(event, str):
            return f"an EVENT packet whose name is not a string: {frame[:200]!r}"
        return event_problem(event, tuple(args))
    if frame.startswith("43") and "[" in frame:
        number, _, body = frame[2:].partition("[")
        if not number.isdigit() or int(number) not in acks:
            return None
        try:
            answer = json.loads("[" + body)
        except ValueError:
            return f"an ACK packet that is not a JSON array: {frame[:200]!r}"
        if len(answer) != 1:
            return f"the ack of {acks[int(number)]!r} carries {len(answer)} values: {frame!r}"
        return ack_problem(acks[int(number)], answer[0])
    return None
