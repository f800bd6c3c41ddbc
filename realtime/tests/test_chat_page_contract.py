"""The contract between the demo chat page and the REST API: every field the page reads from an
answer is one the OpenAPI schema (`/api/schema/`) documents for that route.

The page runs in headless Chromium against a real server with its `fetch` watched: each JSON
answer of a successful request is handed to the page wrapped in Proxies that note every
property the page reads (array items as `[]`). The page then does what a person does — signs
up, reloads, opens a chat, sends, makes a group, opens it, searches, opens the settings — and
each noted read must resolve in the schema of that route's answer. A field the page relies on
that the API does not document (as `readSeqs` once was, read by the page and sent by nobody)
fails here, with the route and the field. What was read goes to
test-artifacts/page-api-reads.json."""

from __future__ import annotations

import json
import re

import requests
from playwright.sync_api import expect

from chatsite.testing import ARTIFACTS
from realtime.tests.browser import BROWSER_TESTS
from realtime.tests.test_chat_page_actions import message
from realtime.tests.test_chat_page_groups import create_group, open_group, signed_up

pytestmark = BROWSER_TESTS

# Installed before the page's own script: notes [method, pathname, status, path] for every
# property read from a successful JSON answer of `fetch`.
WATCH_READS = r"""
(() => {
  const reads = new Map();
  window.__apiReads = () => [...reads.values()];
  const ignored = new Set(["then", "toJSON"]);
  function watch(value, where, path) {
    if (value === null || typeof value !== "object") return value;
    return new Proxy(value, {
      get(target, prop, receiver) {
        const found = Reflect.get(target, prop, receiver);
        if (typeof prop === "symbol" || ignored.has(prop)) return found;
        if (Array.isArray(target)) {
          return /^\d+$/.test(prop) ? watch(found, where, path.concat("[]")) : found;
        }
        const own = Object.prototype.hasOwnProperty.call(target, prop);
        if (!own && prop in Object.prototype) return found;
        const at = path.concat(prop);
        const key = JSON.stringify([where, at]);
        if (!reads.has(key)) reads.set(key, where.concat([at]));
        return watch(found, where, at);
      },
    });
  }
  const realFetch = window.fetch;
  window.fetch = async function (input, init) {
    const response = await realFetch.call(this, input, init);
    const method = ((init && init.method) || "GET").toUpperCase();
    const url = new URL(typeof input === "string" ? input : input.url, location.href);
    if (response.ok && url.origin === location.origin) {
      const json = response.json.bind(response);
      const where = [method, url.pathname, response.status];
      response.json = async () => watch(await json(), where, []);
    }
    return response;
  };
})();
"""


def schema_of(server) -> dict:
    response = requests.get(
        server.url + "/api/schema/",
        headers={"Accept": "application/vnd.oai.openapi+json"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


def operation(schema: dict, method: str, pathname: str) -> dict | None:
    for template, operations in schema["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, pathname) and method.lower() in operations:
            return operations[method.lower()]
    return None


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        name = node["$ref"].removeprefix("#/components/schemas/")
        node = schema["components"]["schemas"][name]
    return node


def documents(schema: dict, node: dict, path: list[str]) -> bool:
    """Whether `path` (property names, `[]` for an array's items) leads somewhere in `node`."""
    node = resolve(schema, node)
    if not path:
        return True
    for alternatives in ("allOf", "oneOf", "anyOf"):
        if any(documents(schema, alt, path) for alt in node.get(alternatives, [])):
            return True
    step, rest = path[0], path[1:]
    if step == "[]":
        return "items" in node and documents(schema, node["items"], rest)
    if step in node.get("properties", {}):
        return documents(schema, node["properties"][step], rest)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        return documents(schema, extra, rest)
    return extra is True


def undocumented(schema: dict, reads: list) -> list[str]:
    problems = []
    for method, pathname, status, path in reads:
        where = f"{method} {pathname} ({status})"
        op = operation(schema, method, pathname)
        if op is None:
            problems.append(f"{where}: no such operation in the schema")
            continue
        answer = op.get("responses", {}).get(str(status), {})
        body = answer.get("content", {}).get("application/json", {}).get("schema")
        if body is None or not documents(schema, body, path):
            problems.append(f"{where}: the page reads {'.'.join(path)}, which it does not document")
    return problems


def test_the_schema_documents_every_field_the_page_reads(browser, server):
    uli, vin, wen = signed_up(browser, server, "uli", "vin", "wen")
    uli.context.add_init_script(WATCH_READS)
    uli.reload()
    uli.open_chat(vin)
    uli.say("hello vin")
    expect(message(uli.page, "hello vin")).to_be_visible()
    vin.reload()
    vin.open_chat(uli)
    vin.say("hello uli")
    expect(message(uli.page, "hello uli")).to_be_visible()
    create_group(uli, "Readers", [vin, wen])
    uli.say("hello readers")
    uli.reload()  # the list again, with a direct conversation and a group
    open_group(uli, "Readers")
    uli.open_chat(vin)
    expect(message(uli.page, "hello uli")).to_be_visible()
    uli.page.fill("#message-search-input", "hello")
    uli.page.press("#message-search-input", "Enter")
    expect(uli.page.locator("#search-hits .hit")).to_have_count(3)
    uli.page.keyboard.press("Escape")
    uli.page.click("#open-settings")
    expect(uli.page.locator("#session-list .session")).to_have_count(1)
    uli.page.keyboard.press("Escape")

    reads = uli.page.evaluate("window.__apiReads()")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "page-api-reads.json").write_text(json.dumps(reads, indent=1), encoding="utf-8")
    # The watch saw the answers it must have seen (it would pass anything if it saw none).
    seen = {(method, re.sub(r"[0-9a-f]{24}", "<id>", pathname)) for method, pathname, *_ in reads}
    for route in [
        ("GET", "/api/auth/me"),
        ("GET", "/api/users"),
        ("GET", "/api/conversations"),
        ("GET", "/api/conversations/<id>"),
        ("GET", "/api/conversations/<id>/messages"),
        ("GET", "/api/search"),
        ("GET", "/api/auth/sessions"),
    ]:
        assert route in seen, f"the page read nothing from {route}: {sorted(seen)}"
    assert ["GET", "/api/conversations", 200, ["conversations", "[]", "readSeqs"]] in reads

    assert undocumented(schema_of(server), reads) == []
    assert not uli.errors and not uli.dialogs
