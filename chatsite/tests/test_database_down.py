"""REST and sockets agree on "the database is down": one classifier (`chatsite.errors.
database_down`) decides both the 503 over REST and the `database_unavailable` ack."""

import pytest
from django.db import DatabaseError
from pymongo.errors import (
    AutoReconnect,
    DuplicateKeyError,
    NetworkTimeout,
    OperationFailure,
    ServerSelectionTimeoutError,
)

from chatsite.errors import api_exception_handler, database_down
from realtime import handlers

# The socket path closes stale database connections around each event, as in the server.
pytestmark = pytest.mark.django_db


def wrapped(error: BaseException) -> BaseException:
    """As the ORM raises it: a Django DatabaseError caused by pymongo's."""
    try:
        raise DatabaseError(str(error)) from error
    except DatabaseError as wrapper:
        return wrapper


UNREACHABLE = [
    ServerSelectionTimeoutError("no server"),
    AutoReconnect("connection reset"),
    NetworkTimeout("read timed out"),
    wrapped(ServerSelectionTimeoutError("no server")),
]
BUGS = [
    OperationFailure("unknown operator: $foo", code=2),
    DuplicateKeyError("E11000"),
    wrapped(OperationFailure("bad query", code=2)),
    ValueError("not a database error"),
]


def socket_ack(error: BaseException) -> dict:
    def handler(sid, data):
        raise error

    return handlers._with_acks(handler)("sid", None)


@pytest.mark.parametrize("error", UNREACHABLE, ids=repr)
def test_an_unreachable_database_is_503_and_database_unavailable(error):
    assert database_down(error)
    response = api_exception_handler(error, {})
    assert (response.status_code, response.data["code"]) == (503, "database_unavailable")
    assert socket_ack(error)["error"]["code"] == "database_unavailable"


@pytest.mark.parametrize("error", BUGS, ids=repr)
def test_any_other_database_error_is_a_bug_on_both_paths(error):
    assert not database_down(error)
    assert api_exception_handler(error, {}) is None  # Django answers 500 (JSON under /api/)
    assert socket_ack(error)["error"]["code"] == "internal_error"
