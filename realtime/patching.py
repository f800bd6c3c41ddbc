"""Cooperative-concurrency setup for `manage.py serve`; runs before anything else is imported."""

ASYNC_MODES = ("eventlet", "gevent", "threading", "asgi")


def patch_for_async_mode(mode: str) -> None:
    if mode not in ASYNC_MODES:
        raise SystemExit(f"REALTIME_ASYNC_MODE must be one of {', '.join(ASYNC_MODES)}")
    if mode == "eventlet":
        import eventlet

        eventlet.monkey_patch()
    elif mode == "gevent":
        from gevent import monkey

        monkey.patch_all()
