import pytest

from realtime.tests.clients import Api, ChatClient, RawSocket, person_create


@pytest.fixture
def make_client():
    """`make_client(server)` → an unconnected ChatClient; every one is closed after the test."""
    clients: list[ChatClient] = []

    def make(server) -> ChatClient:
        client = ChatClient(server.url)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def make_raw_socket():
    """`make_raw_socket(server)` → an unconnected RawSocket; every one is closed after the test."""
    sockets: list[RawSocket] = []

    def make(server) -> RawSocket:
        socket = RawSocket(server.url)
        sockets.append(socket)
        return socket

    yield make
    for socket in sockets:
        socket.close()


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
