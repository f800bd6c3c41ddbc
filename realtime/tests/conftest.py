import pytest

from realtime.tests.clients import (
    Api,
    ChatClient,
    RawSocket,
    assert_contract_kept,
    person_create,
)


def _closed_after_the_test(kind, made: list):
    """`make(server, **options)` → an unconnected `kind(server.url, **options)`, kept in `made`;
    all are closed at the end."""

    def make(server, **options):
        client = kind(server.url, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def make_client():
    """`make_client(server)` → an unconnected ChatClient (options: `http_session`); every one is
    closed after the test, and the test fails if any of them received an event or ack that
    breaks the event contract (docs/realtime-events.schema.json). Events arrive on each
    client's reader thread, where a failed assertion would only be logged, so they are checked
    here."""
    made: list[ChatClient] = []
    yield from _closed_after_the_test(ChatClient, made)
    assert_contract_kept(made)


@pytest.fixture
def make_raw_socket():
    """`make_raw_socket(server)` → an unconnected RawSocket; every one is closed after the test,
    and the test fails if any of them received an event that breaks the event contract."""
    made: list[RawSocket] = []
    yield from _closed_after_the_test(RawSocket, made)
    assert_contract_kept(made)


@pytest.fixture
def connect(chat_server, make_client):
    """`connect(person)` → a socket of `person` on `chat_server`, connected with their token."""

    def open_socket(person) -> ChatClient:
        return make_client(chat_server).connect(token=person.access)

    return open_socket


@pytest.fixture
def api(chat_server) -> Api:
    return Api(chat_server.url)


@pytest.fixture
def alice(transactional_db):
    return person_create("alice")


@pytest.fixture
def bob(transactional_db):
    return person_create("bob")


@pytest.fixture
def carol(transactional_db):
    return person_create("carol")


@pytest.fixture(scope="module")
def server(chat_server_factory):
    """The server of a demo-page test module (realtime/tests/browser.py): eventlet, presence to
    contacts, as `make run` serves the page."""
    return chat_server_factory("eventlet", REALTIME_PRESENCE_FANOUT="contacts")


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium for the demo-page tests (realtime/tests/browser.py)."""
    from playwright.sync_api import expect, sync_playwright

    from realtime.tests.browser import CHROMIUM, EXPECT_TIMEOUT_MS, LAUNCH_ARGS

    # What the page shows, it shows within this (assertions of how soon pass their own timeout).
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True
        )
        yield browser
        browser.close()
