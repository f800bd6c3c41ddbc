"""The API's self-description: OpenAPI schema, Swagger UI and the browsable API."""

import re

import pytest

pytestmark = pytest.mark.django_db

ACCOUNTS_PATHS = [
    "/api/auth/signup",
    "/api/auth/login",
    "/api/auth/refresh",
    "/api/auth/logout",
    "/api/auth/me",
    "/api/users",
]


def assert_local_page(html: str) -> None:
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert urls, "the page references its assets"
    assert [u for u in urls if re.match(r"^(https?:)?//", u)] == []
    assert not re.search(r"https?://(?!127\.0\.0\.1|localhost|testserver)", html)
    # The Content-Security-Policy allows scripts from our origin only: none may be inline.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts
    assert [attrs for attrs, body in scripts if "src=" not in attrs or body.strip()] == []


def test_the_schema_describes_the_accounts_routes(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Chat API"
    for path in ACCOUNTS_PATHS:
        assert path in schema["paths"], path
    assert "post" in schema["paths"]["/api/auth/signup"]
    assert "get" in schema["paths"]["/api/users"]
    parameters = {p["name"] for p in schema["paths"]["/api/users"]["get"]["parameters"]}
    assert {"search", "limit"} <= parameters


def test_the_schema_is_served_as_yaml_by_default(client):
    response = client.get("/api/schema/")

    assert response.status_code == 200
    assert b"/api/auth/login:" in response.content


def test_swagger_ui_loads_only_local_assets(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert "swagger-ui" in response.content.decode()
    assert_local_page(response.content.decode())


def test_swagger_ui_runs_under_the_content_security_policy(client):
    response = client.get("/api/docs/")

    assert "script-src 'self';" in response["Content-Security-Policy"]
    assert_local_page(response.content.decode())
    init = client.get("/api/docs/", {"script": ""})
    assert init.status_code == 200
    assert "javascript" in init["Content-Type"]
    assert b"/api/schema/" in init.content


def test_redoc_loads_nothing_from_another_origin(client):
    response = client.get("/api/redoc/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "redoc.standalone.js" in html
    assert "fonts.googleapis.com" not in html and "fonts.gstatic.com" not in html
    assert_local_page(html)
    assert "script-src 'self';" in response["Content-Security-Policy"]


def test_the_browsable_api_root(client):
    response = client.get("/api/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"/api/auth/login" in response.content


def test_the_api_root_as_json(client):
    response = client.get("/api/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response.json()["login"] == "http://testserver/api/auth/login"


def test_a_browsable_api_page_of_an_authenticated_route(client, alice):
    client.force_login(alice)

    response = client.get("/api/auth/me", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert b"Alice Liddell" in response.content


def test_the_schema_documents_bearer_authentication(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    schema = response.json()
    assert schema["components"]["securitySchemes"]["jwtAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert {"jwtAuth": []} in schema["paths"]["/api/auth/me"]["get"]["security"]
    assert "security" not in schema["paths"]["/api/auth/login"]["post"] or schema["paths"][
        "/api/auth/login"
    ]["post"]["security"] == [{}]
