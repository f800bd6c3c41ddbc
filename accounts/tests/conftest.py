import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import bearer_for, user_factory


@pytest.fixture
def alice(db):
    return user_factory(username="alice", full_name="Alice Liddell", gender="female")


@pytest.fixture
def bob(db):
    return user_factory(username="bob", full_name="Bob Builder", gender="male")


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def alice_api(alice):
    """An API client holding a Bearer access token of alice's."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer_for(alice))
    return client
