"""`GET /healthz` for load balancers."""

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_answers(client):
    answer = client.get("/healthz")

    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_a_plain_http_probe_is_answered_where_everything_else_redirects_to_https(client, settings):
    """Production redirects plain HTTP to HTTPS (SECURE_SSL_REDIRECT); a load balancer's
    probe of a process comes over plain HTTP and must see the process's health, not a 301."""
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz").status_code == 200
    assert client.get("/api/users").status_code == 301
    assert client.get("/healthz/").status_code == 301
