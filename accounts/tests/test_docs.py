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
    "/api/auth/me/export",
    "/api/auth/sessions",
    "/api/auth/sessions/{session_id}",
    "/api/auth/password",
    "/api/auth/password/reset",
    "/api/auth/password/reset/confirm",
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


def test_the_schema_documents_bearer_and_cookie_authentication(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    schema = response.json()
    jwt = schema["components"]["securitySchemes"]["jwtAuth"]
    assert {k: jwt[k] for k in ("type", "scheme", "bearerFormat")} == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert "token_expired" in jwt["description"]
    cookie = schema["components"]["securitySchemes"]["cookieAuth"]
    assert (cookie["type"], cookie["in"], cookie["name"]) == ("apiKey", "cookie", "sessionid")
    assert "X-CSRFToken" in cookie["description"]
    browser = schema["components"]["securitySchemes"]["jwtCookieAuth"]
    assert (browser["type"], browser["in"], browser["name"]) == ("apiKey", "cookie", "jwt")
    assert "origin_not_allowed" in browser["description"]
    security = schema["paths"]["/api/auth/me"]["get"]["security"]
    assert {"jwtAuth": []} in security and {"jwtCookieAuth": []} in security
    assert "security" not in schema["paths"]["/api/auth/login"]["post"] or schema["paths"][
        "/api/auth/login"
    ]["post"]["security"] == [{}]


def openapi(client) -> dict:
    return client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def error_codes(operation: dict, status: int) -> list[str]:
    content = operation["responses"][str(status)]["content"]["application/json"]
    assert content["schema"]["allOf"] == [{"$ref": "#/components/schemas/Error"}]
    return content["schema"]["properties"]["code"]["enum"]


def test_every_operation_documents_its_errors_with_the_error_shape(client):
    schema = openapi(client)

    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"error", "code", "fields", "retryAfter"}
    assert set(error["required"]) == {"error", "code"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            statuses = {int(s) for s in operation["responses"]}
            assert {406, 503} <= statuses, (method, path)
            assert error_codes(operation, 503) == ["database_unavailable"]
            if "requestBody" in operation:
                assert {"malformed_json", "validation_error"} <= set(error_codes(operation, 400))
                assert error_codes(operation, 415) == ["unsupported_media_type"]
            security = operation.get("security", [])
            if {"jwtAuth": []} in security and {} not in security:  # not optional
                assert error_codes(operation, 401) == [
                    "not_authenticated", "session_ended", "token_expired", "token_invalid",
                    "user_inactive",
                ]  # fmt: skip


def test_the_codes_of_each_route_are_the_ones_it_raises(client):
    paths = openapi(client)["paths"]

    send = paths["/api/messages/send/{user_id}"]["post"]
    assert error_codes(send, 404) == ["attachment_not_found", "not_found", "receiver_not_found"]
    assert {"cannot_message_self", "message_too_long"} <= set(error_codes(send, 400))
    assert error_codes(send, 429) == ["rate_limited"]
    assert send["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    assert error_codes(paths["/api/sync"]["get"], 410) == ["cursor_invalid"]
    assert error_codes(paths["/api/auth/login"]["post"], 401) == ["invalid_credentials"]
    assert "username_taken" in error_codes(paths["/api/auth/signup"]["post"], 400)
    assert "401" not in paths["/api/auth/signup"]["post"]["responses"]
    read = paths["/api/conversations/{conversation_id}/read"]["post"]
    assert error_codes(read, 404) == ["conversation_not_found", "not_found"]
    assert "429" not in read["responses"]


def test_the_account_management_routes_state_their_codes(client):
    schema = openapi(client)
    paths, components = schema["paths"], schema["components"]["schemas"]
    assert "email" in components["Me"]["properties"]
    assert "email" not in components["User"]["properties"]  # the public shape

    me = paths["/api/auth/me"]
    assert {"email_taken", "username_taken"} <= set(error_codes(me["patch"], 400))
    assert "wrong_password" in error_codes(me["delete"], 400)
    assert me["delete"]["requestBody"]["required"] is True  # the password, with DELETE
    assert error_codes(me["delete"], 429) == ["rate_limited"]
    assert error_codes(me["patch"], 429) == ["rate_limited"]  # per user: it can probe emails
    assert "wrong_password" in error_codes(me["patch"], 400)
    assert "429" not in me["get"]["responses"]
    export = paths["/api/auth/me/export"]["get"]
    assert error_codes(export, 429) == ["rate_limited"]
    assert me["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Me"
    }
    end = paths["/api/auth/sessions/{session_id}"]["delete"]
    assert error_codes(end, 404) == ["not_found"]
    assert "wrong_password" in error_codes(paths["/api/auth/password"]["post"], 400)
    reset = paths["/api/auth/password/reset"]["post"]
    assert set(reset["responses"]) >= {"202", "429"} and "401" not in reset["responses"]
    confirm = paths["/api/auth/password/reset/confirm"]["post"]
    assert "reset_link_invalid" in error_codes(confirm, 400)
    assert "origin_not_allowed" in error_codes(me["delete"], 403)


def test_parameters_and_bodies_carry_the_constraints_the_server_applies(client, settings):
    schema = openapi(client)
    paths, components = schema["paths"], schema["components"]["schemas"]

    page = {p["name"]: p for p in paths["/api/messages/{id}"]["get"]["parameters"]}
    assert page["id"]["schema"]["pattern"] == "^[0-9a-f]{24}$"
    assert page["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 200}
    assert page["before"]["schema"]["minimum"] == 0
    users = {p["name"]: p for p in paths["/api/users"]["get"]["parameters"]}
    assert users["limit"]["schema"]["maximum"] == 1000
    # "" or at most 100 characters without NUL.
    assert {"type": "string", "pattern": "^[^\\u0000]+$", "maxLength": 100} in users["search"][
        "schema"
    ]["oneOf"]
    message = components["SendMessageRequest"]["properties"]["message"]
    assert message["maxLength"] == settings.CHAT["MESSAGE_MAX_LENGTH"]
    assert "nullable" not in message
    password = components["SignupRequest"]["properties"]["password"]
    assert password["minLength"] == 8
    username = components["SignupRequest"]["properties"]["username"]
    assert username["pattern"] == "^[A-Za-z0-9_.-]{3,30}$"
    since = {p["name"]: p for p in paths["/api/sync"]["get"]["parameters"]}["since"]
    assert since["schema"]["pattern"] == "^[0-9a-f]{24}$"


def test_links_lead_from_signup_to_sending_and_from_a_message_to_its_history(client):
    paths = openapi(client)["paths"]

    signup = paths["/api/auth/signup"]["post"]["responses"]["201"]["links"]
    assert signup["messages_send"]["parameters"] == {"user_id": "$response.body#/_id"}
    sent = paths["/api/messages/send/{user_id}"]["post"]["responses"]["201"]["links"]
    assert sent["conversation_messages_list"]["operationId"] == "conversation_messages_list"
    assert sent["conversation_read"]["requestBody"] == {"seq": "$response.body#/seq"}
