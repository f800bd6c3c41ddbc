"""Ended login sessions reach every serving process at once.

When a session ends (logout, a reused refresh token) or a user is deactivated, the process
where it happened closes its own affected sockets and publishes the news on a Redis channel;
every other serving process hears it (`realtime.news`) and closes its own. A process that only
emits (a management command, a separate admin process) just publishes. The periodic recheck
(`ChatNamespace.watch_sessions`) stays as the backstop for a missed message (Redis down)."""

from __future__ import annotations

from realtime import news, server

CHANNEL = "chat:sessions-ended"


def announce(*, user_id: str, session_id: str | None, reason: str) -> None:
    """Close the sockets of `user_id` (of that login session only, if `session_id` is given)
    on every serving process."""
    namespace = server.current_namespace()
    if namespace is not None:
        namespace.end_sessions(user_id=user_id, session_id=session_id, reason=reason)
    news.publish(CHANNEL, {"user": user_id, "session": session_id, "reason": reason})


def hear(namespace) -> None:
    """Close this process's sockets of the sessions other processes announce."""

    def act(item: dict) -> None:
        namespace.end_sessions(
            user_id=str(item["user"]), session_id=item["session"], reason=str(item["reason"])
        )

    news.handle(CHANNEL, act)
