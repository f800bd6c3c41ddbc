"""The moderation admin as a moderator sees it, in headless Chromium at 1,400 px against a real
server process: conversations are named by their participants, the message list shows every
column with its text on a few lines, and a conversation reads as a thread (the newest last)
where hiding and unhiding a message reaches its participants' sockets at once. Screenshots go
to test-artifacts/screenshots/."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from playwright.sync_api import expect

from accounts.tests.factories import PASSWORD
from messaging.services import group_create, message_edit, message_hide, message_send
from realtime.tests.browser import BROWSER_TESTS, CHROMIUM, LAUNCH_ARGS, SHOTS
from realtime.tests.clients import person_create

pytestmark = [*BROWSER_TESTS, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1400, "height": 900}
HEX_ID = re.compile(r"\b[0-9a-f]{24}\b")
LONG = (
    "Could everyone please keep the conversation about the book club friendly; the last few "
    "messages went a bit far and I would rather we talked about chapter seven."
)


def in_thread(job):
    """Run `job` (test data, through the services) in a thread of its own: Playwright's event
    loop runs in the test's thread, where Django refuses database calls."""

    def run():
        try:
            return job()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


@pytest.fixture
def browser(transactional_db):
    """Headless Chromium for one test, started after the test database is ready (the demo
    page's module-wide browser would be running its event loop while pytest-django prepares
    the database, which Django refuses)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def people(transactional_db):
    def make():
        alice, bob, carol = (person_create(name) for name in ("alice", "bob", "carol"))
        moderator = person_create("moderator")
        moderator.user.is_staff = moderator.user.is_superuser = True
        moderator.user.save()
        return alice, bob, carol, moderator

    return in_thread(make)


def moderator_page(browser, server, moderator):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(server.url + "/admin/login/")
    page.fill("#id_username", moderator.user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))
    return context, page


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_the_message_list_is_readable_at_1400_px(browser, server, people):
    alice, bob, carol, moderator = people

    def messages():
        group = group_create(creator=alice.user, name="Book club", member_ids=[bob.id, carol.id])
        for i in range(12):
            sender, receiver = (alice, bob) if i % 2 else (bob, alice)
            sent = message_send(sender=sender.user, receiver=receiver.user, body=f"{LONG} ({i})")
        message_edit(message=sent, user=sent.sender, body=LONG + " (edited)")
        hidden = message_send(sender=carol.user, conversation=group, body=LONG)
        message_hide(message=hidden, by=None)
        message_send(sender=carol.user, receiver=alice.user, body="short")

    in_thread(messages)

    context, page = moderator_page(browser, server, moderator)
    page.goto(server.url + "/admin/messaging/message/")
    table = page.locator("#result_list")
    expect(table).to_be_visible()
    shot(page, "admin-messages")

    # Every column is on the screen: nothing scrolls sideways, in the page or in the table.
    overflow = page.evaluate(
        """() => {
            const results = document.querySelector('#changelist .results');
            return {
                page: document.documentElement.scrollWidth - window.innerWidth,
                table: results.scrollWidth - results.clientWidth,
                right: Math.max(...[...document.querySelectorAll('#result_list thead th')]
                    .map(th => th.getBoundingClientRect().right)),
            };
        }"""
    )
    assert overflow["page"] <= 0 and overflow["table"] <= 0, overflow
    assert overflow["right"] <= DESKTOP["width"], overflow
    for header in ["Seq", "Conversation", "Sender", "Message", "Sent", "State"]:
        expect(page.locator("#result_list thead th", has_text=header)).to_be_in_viewport()

    # The text column is wide enough to read: a 150-character message takes a few lines.
    cell = page.locator("#result_list td.field-short_body").first
    box = cell.bounding_box()
    line = float(cell.evaluate("td => parseFloat(getComputedStyle(td).lineHeight) || 16"))
    assert box["width"] >= 300, box
    assert box["height"] <= 4 * line + 12, (box, line)

    # Conversations are named by their participants, never by an id.
    text = table.inner_text()
    assert "alice ↔ bob" in text and "Book club" in text and "alice ↔ carol" in text
    assert not HEX_ID.search(text), HEX_ID.search(text)
    expect(page.locator("#result_list .message-state.state-hidden")).to_be_visible()
    expect(page.locator("#result_list .message-state.state-edited")).to_be_visible()
    context.close()


def test_a_moderator_reads_a_conversation_as_a_thread_and_hides_in_place(
    browser, server, people, make_client
):
    alice, bob, _, moderator = people
    sent = in_thread(
        lambda: [
            message_send(
                sender=(alice if i % 2 == 0 else bob).user,
                receiver=(bob if i % 2 == 0 else alice).user,
                body=f"thread message {i + 1}",
            )
            for i in range(60)
        ]
    )
    conversation_id = str(sent[0].conversation_id)
    bob_socket = make_client(server).connect(token=bob.access)

    context, page = moderator_page(browser, server, moderator)
    page.goto(server.url + "/admin/messaging/conversation/")
    row = page.locator("#result_list tbody tr", has_text="alice ↔ bob")
    row.get_by_role("link", name="Read the messages").click()
    expect(page.locator("h1")).to_contain_text("alice ↔ bob")

    # The newest messages, oldest first: the newest is the last one, and on the screen.
    messages = page.locator("ol.thread li.message")
    expect(messages).to_have_count(50)
    expect(messages.last).to_contain_text("thread message 60")
    expect(messages.first).to_contain_text("thread message 11")
    expect(messages.last).to_be_in_viewport()
    assert not HEX_ID.search(page.locator("#content").inner_text())
    page.click("a.older")
    expect(page.locator("ol.thread li.message")).to_have_count(10)
    expect(page.locator("ol.thread li.message").last).to_contain_text("thread message 10")
    page.go_back()

    # Hide message 55 in place: the page comes back to it, marked, and bob's socket hears it.
    target = page.locator("#m55")
    target.get_by_role("button", name="Hide").click()
    expect(page.locator("#m55")).to_contain_text("hidden by moderator")
    expect(page.locator("#m55")).to_be_in_viewport()
    expect(page.locator("#m55").get_by_role("button", name="Unhide")).to_be_visible()
    event = bob_socket.wait_for("messageHidden")
    assert (event["seq"], event["hidden"]) == (55, True)
    assert event["conversationId"] == conversation_id
    page.locator("#m55").scroll_into_view_if_needed()
    shot(page, "admin-thread")

    page.locator("#m55").get_by_role("button", name="Unhide").click()
    expect(page.locator("#m55").get_by_role("button", name="Hide")).to_be_visible()
    events = bob_socket.wait_count("messageHidden", 2)
    assert (events[1]["seq"], events[1]["hidden"]) == (55, False)
    context.close()
