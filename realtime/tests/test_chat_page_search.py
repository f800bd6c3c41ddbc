"""Message search on the demo chat page, in headless Chromium against a real server process: a
Korean word inside a longer one is found and marked, and its hit opens the conversation on the
message (loading older pages to reach it); every word of a query must be in a hit, more hits
come with "Load more", and "Only in …" narrows them to the open conversation; no hits and a
query with no words say so inline, never as a dialog, on a phone too; a message a moderator
hid is not found, and leaves the results at once. Screenshots go to
test-artifacts/screenshots/search-*.png."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

from accounts.tests.factories import PASSWORD
from chatsite.testing import BASE_DIR
from realtime.tests.browser import BROWSER_TESTS, Person
from realtime.tests.test_chat_page_actions import (
    PHONE,
    assert_clean,
    chatting,
    message,
    only_conversation,
)
from realtime.tests.test_moderation import AdminSession

pytestmark = BROWSER_TESTS


SEND = """async ([conversationId, texts]) => {
  for (const message of texts) {
    const response = await fetch(`/api/conversations/${conversationId}/messages`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
      },
      body: JSON.stringify({ message }),
    });
    if (response.status !== 201) throw new Error(await response.text());
  }
}"""


def search(person: Person, query: str) -> None:
    """Types `query` in "Search messages", presses Enter and waits for the server's answer to
    that search (up to 30 s: the suite's load can hold a search back longer than what a page
    assertion waits), so that what the page then shows is what it made of the answer."""
    person.page.fill("#message-search-input", query)

    def answer(response) -> bool:
        url = urlsplit(response.url)
        return url.path == "/api/search" and parse_qs(url.query).get("q") == [query.strip()]

    with person.page.expect_response(answer, timeout=30_000):
        person.page.press("#message-search-input", "Enter")


def hits(person: Person):
    return person.page.locator("#search-hits .hit")


def test_a_korean_word_is_found_marked_and_leads_to_its_message(browser, server):
    jin, kai = chatting(browser, server, "jin", "kai")
    jin.say("are you studying today?")
    kai.reload()
    kai.open_chat(jin)
    kai.say("저는 학교에서 공부해요")
    expect(message(jin.page, "학교에서")).to_be_visible(timeout=5000)
    # More than a page on top, so the message found is not loaded when its chat opens.
    jin.page.evaluate(SEND, [only_conversation(jin), [f"later {i}" for i in range(1, 36)]])

    jin.reload()
    search(jin, "학교")
    expect(jin.page.locator("#contacts")).to_be_hidden()
    hit = hits(jin).filter(has_text="공부해요")
    expect(hit).to_have_count(1)
    expect(hits(jin)).to_have_count(1)
    expect(hit.locator(".hit-where")).to_have_text(kai.full_name)  # the other person
    expect(hit.locator(".hit-sender")).to_have_text(f"{kai.full_name}: ")
    expect(hit.locator(".hit-when")).to_have_text(re.compile(r"\d"))
    # 학교 is marked inside 학교에서, the rest is plain text around it.
    expect(hit.locator("mark")).to_have_text(["학교"])
    expect(hit.locator(".hit-text")).to_have_text(f"{kai.full_name}: 저는 학교에서 공부해요")
    jin.shot("search-korean")

    expect(message(jin.page, "학교에서")).to_have_count(0)  # no chat open yet
    hit.click()
    found = message(jin.page, "학교에서")
    expect(found).to_have_class(re.compile("highlight"), timeout=5000)
    expect(found).to_be_in_viewport()
    expect(hit).to_have_class(re.compile("active"))
    expect(jin.page.locator("#peer-name")).to_have_text(kai.full_name)
    jin.shot("search-jump")

    # Escape closes the results: the people and groups are back.
    jin.page.keyboard.press("Escape")
    expect(jin.page.locator("#search-panel")).to_be_hidden()
    expect(jin.contact(kai)).to_be_visible()
    expect(jin.page.locator("#message-search-input")).to_have_value("")
    assert_clean(jin, kai)


def test_every_word_must_match_more_come_on_request_and_the_scope_narrows(browser, server):
    lou, max_ = chatting(browser, server, "lou", "max")
    ned = Person(browser, server, "ned")
    ned.sign_up()
    lou.say("hello")
    expect(message(lou.page, "hello")).to_be_visible()
    # 23 messages with both words, and some with only one of them.
    texts = []
    for i in range(1, 24):
        texts.append(f"pasta for dinner {i}")
        if i % 5 == 0:
            texts += [f"pasta for lunch {i}", f"soup for dinner {i}"]
    lou.page.evaluate(SEND, [only_conversation(lou), texts])
    # Ned, in another conversation, asks the same.
    ned.reload()
    ned.open_chat(lou)
    ned.say("Pasta dinner at mine?")
    expect(message(ned.page, "Pasta dinner at mine?")).to_be_visible()

    lou.reload()
    lou.open_chat(max_)
    search(lou, "pasta dinner")
    shown = hits(lou)
    expect(shown).to_have_count(20)
    more = lou.page.get_by_role("button", name="Load more")
    expect(more).to_be_visible()
    # Newest first: Ned's, then the 23rd down.
    expect(shown.first.locator(".hit-where")).to_have_text(ned.full_name)
    expect(shown.first.locator("mark")).to_have_text(["Pasta", "dinner"])
    expect(shown.nth(1)).to_contain_text("pasta for dinner 23")
    lou.shot("search-pages")
    more.click()
    expect(shown).to_have_count(24)
    expect(more).to_be_hidden()
    texts_found = shown.locator(".hit-text").all_inner_texts()
    assert not [t for t in texts_found if "lunch" in t or "soup" in t], texts_found
    assert texts_found[-1].endswith("pasta for dinner 1"), texts_found

    # Only in Max's conversation: Ned's hit is gone, the pages run again.
    scope = lou.page.locator("#search-scope")
    expect(scope).to_have_text(f"Only in {max_.full_name}")
    scope.locator("input").check()
    expect(shown).to_have_count(20)
    expect(shown.first).to_contain_text("pasta for dinner 23")
    more.click()
    expect(shown).to_have_count(23)
    expect(shown.locator(".hit-where")).to_have_text([max_.full_name] * 23)
    expect(more).to_be_hidden()
    lou.shot("search-scoped")
    assert_clean(lou, max_, ned)


def test_no_hits_and_no_words_say_so_inline_on_a_phone(browser, server):
    oli, pia = chatting(browser, server, "oli", "pia", viewports={"oli": PHONE})
    # Markup and a surrogate pair before the word: the text stays text, the mark on the word.
    pia.reload()
    pia.open_chat(oli)
    pia.say("🦓🦓 <img src=x onerror=alert(1)> zebra crossing")
    expect(message(pia.page, "zebra crossing")).to_be_visible()
    oli.page.locator("#back").click()  # the list, on a phone

    status = oli.page.locator("#search-status")
    search(oli, "giraffe")
    expect(status).to_have_text("No messages found")
    expect(hits(oli)).to_have_count(0)
    oli.shot("search-empty-mobile")
    search(oli, "?! …")
    expect(status).to_have_text("Type a word to search for.")
    expect(status).to_have_class(re.compile("error"))
    oli.shot("search-invalid-mobile")

    # Typing alone searches, once it pauses.
    oli.page.fill("#message-search-input", "ZEBRA")
    hit = hits(oli)
    expect(hit).to_have_count(1)
    expect(status).to_be_hidden()
    expect(hit.locator("mark")).to_have_text(["zebra"])
    expect(hit.locator(".hit-text")).to_have_text(
        f"{pia.full_name}: 🦓🦓 <img src=x onerror=alert(1)> zebra crossing"
    )
    expect(hit.locator("img")).to_have_count(0)

    # The hit opens the conversation alone on the screen; ← leads back to the results.
    hit.click()
    expect(message(oli.page, "zebra crossing")).to_have_class(re.compile("highlight"))
    expect(oli.page.locator(".sidebar")).to_be_hidden()
    oli.shot("search-jump-mobile")
    oli.page.locator("#back").click()
    expect(hit).to_be_visible()
    oli.page.keyboard.press("Escape")
    expect(oli.page.locator("#search-panel")).to_be_hidden()
    expect(oli.contact(pia)).to_be_visible()
    assert_clean(oli, pia)


def moderator_create(server) -> SimpleNamespace:
    """A superuser made the documented way (`createsuperuser --noinput`, README), in a process
    of its own: Playwright's event loop keeps this one from using the database."""
    username = f"mod{uuid.uuid4().hex[:6]}"
    subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "createsuperuser", "--noinput"],
        env={
            **os.environ,
            "MONGODB_NAME": server.env["MONGODB_NAME"],
            "DJANGO_SUPERUSER_USERNAME": username,
            "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
            "DJANGO_SUPERUSER_FULL_NAME": "The Moderator",
        },
        cwd=BASE_DIR,
        check=True,
        timeout=60,
    )
    return SimpleNamespace(user=SimpleNamespace(username=username))  # what AdminSession reads


def test_a_message_a_moderator_hid_is_not_found(browser, server):
    moderator = moderator_create(server)
    qua, rex = chatting(browser, server, "qua", "rex")
    qua.say("the treasure is buried under the oak")
    qua.say("treasure map attached")
    expect(message(qua.page, "treasure map attached")).to_be_visible()
    buried = message(qua.page, "buried under").get_attribute("data-id")

    rex.reload()
    search(rex, "treasure")
    expect(hits(rex)).to_have_count(2)
    # Hidden while Rex looks at the results: its hit leaves them at once.
    AdminSession(server.url, moderator).run_action("hide", [buried])
    expect(hits(rex)).to_have_count(1, timeout=5000)
    expect(hits(rex)).to_contain_text("treasure map attached")
    # And a new search does not find it either.
    search(rex, "buried treasure")
    expect(rex.page.locator("#search-status")).to_have_text("No messages found")
    search(rex, "treasure")
    expect(hits(rex)).to_have_count(1)
    expect(hits(rex)).to_contain_text("treasure map attached")
    rex.shot("search-hidden")
    assert_clean(qua, rex)
