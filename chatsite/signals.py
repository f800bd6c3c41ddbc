"""How the apps say "this changed": `send_after_commit(signal, ...)`.

Services announce a change with a signal sent once the write is committed (at once when they
write outside a transaction), never for a write that was rolled back; realtime's receivers turn
it into events. The one exception, by the product's design: a new message is announced by
`Message`'s own `post_save`, which realtime defers to the commit the same way."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal


def send_after_commit(signal: Signal, *, sender, **kwargs) -> None:
    """`signal.send(sender=sender, **kwargs)` after the current transaction commits. A receiver
    that fails is logged and does not fail the write, which is stored by then."""
    transaction.on_commit(lambda: signal.send(sender=sender, **kwargs), robust=True)
