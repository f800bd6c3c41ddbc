"""What makes the demo chat page pleasant to use, in headless Chromium against a real server
process: empty states (nobody to talk to, nobody found, a conversation without messages), a
line per day, runs of messages from one sender, a "New messages" line, "Jump to latest" while
scrolled up, read ticks told apart by shape, colour and name, a message that could not be sent
kept with "Retry", signup errors under their fields, the keyboard (Enter, Shift+Enter, Escape,
the sidebar's rows) and its focus ring, light and dark themes following the system, and an
accessibility audit (axe-core, from npm) in both. Screenshots go to
test-artifacts/screenshots/ (chat-dark.png is the README's)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from realtime.tests.browser import BROWSER_TESTS, PASSWORD, Person
from realtime.tests.test_chat_page_actions import chatting, message, open_menu

pytestmark = BROWSER_TESTS

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def assert_clean(*people: Person) -> None:
    for person in people:
        assert not person.dialogs, f"{person.username} saw a dialog: {person.dialogs}"
        assert not person.errors, f"{person.username}'s page failed: {person.errors}"


def sent_to(sender: Person, receiver: Person, texts: list[str]) -> None:
    """`texts` from `sender` to `receiver` through the REST API, from `sender`'s page."""
    peer_id = sender.contact(receiver).get_attribute("data-peer")
    sender.page.evaluate(
        """async ([peerId, texts]) => {
          for (const text of texts) {
            const response = await fetch(`/api/messages/send/${peerId}`, {
              method: "POST",
              headers: { "Content-Type": "application/json" },
              body: JSON.stringify({ message: text }),
            });
            if (response.status !== 201) throw new Error(await response.text());
          }
        }""",
        [peer_id, texts],
    )


def list_items(person: Person) -> list[str]:
    """The rows of the open conversation, in order: `day:<label>`, `new`, or the message's
    text with `+` in front when it continues a run."""
    return person.page.locator("#messages").evaluate(
        """list => [...list.children].map(li =>
          li.classList.contains("day-separator") ? "day:" + li.textContent
          : li.classList.contains("unread-divider") ? "new"
          : (li.classList.contains("run-next") ? "+" : "")
            + (li.querySelector(".body") || li).textContent)"""
    )


@pytest.fixture
def database(request, monkeypatch):
    """The server's database, from this process (emptied after the test). Playwright's sync API
    keeps an asyncio loop in this thread, which Django's guard against async callers takes
    for one; no Django code runs on that loop."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    request.getfixturevalue("transactional_db")


@pytest.fixture
def empty_database(database):
    """Nobody signed up yet: the database as `migrate` left it (emptied again afterwards)."""
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)


def test_empty_states_for_a_first_user_a_new_conversation_and_no_results(
    browser, server, empty_database
):
    ann = Person(browser, server, "ann")
    ann.sign_up()
    empty = ann.page.locator("#contacts .contacts-empty")
    expect(empty).to_contain_text("Nobody to talk to yet")
    expect(ann.page.locator(".contact")).to_have_count(0)
    ann.shot("empty-first-user")

    ben = Person(browser, server, "ben")
    ben.sign_up()
    ann.reload()
    expect(ann.contact(ben)).to_be_visible()
    ann.page.fill("#search", "zebra")
    expect(empty).to_contain_text("Nobody found")
    expect(empty).to_contain_text("“zebra”")
    ann.page.fill("#search", "")
    expect(ann.contact(ben)).to_be_visible()

    # A conversation with nothing in it says so, and says how to start it.
    ann.open_chat(ben)
    start = ann.page.locator("#messages .conversation-empty")
    expect(start).to_contain_text("No messages yet")
    expect(start).to_contain_text(ben.full_name)
    ann.say("hello ben")
    expect(message(ann.page, "hello ben")).to_be_visible()
    expect(start).to_have_count(0)

    ann.page.fill("#message-search-input", "nothingsaidlikethis")
    ann.page.press("#message-search-input", "Enter")
    expect(ann.page.locator("#search-status")).to_have_text("No messages found")
    assert_clean(ann, ben)


def test_a_line_per_day_runs_of_one_sender_and_the_new_messages_line(browser, server, database):
    from django.utils import timezone

    from messaging.models import Message

    ann, ben = chatting(browser, server, "dee", "dan")
    ben.reload()
    sent_to(ann, ben, ["said two days ago", "said yesterday"])
    for body, days in [("said two days ago", 2), ("said yesterday", 1)]:
        moved = Message.objects.filter(body=body).update(
            created_at=timezone.now() - timedelta(days=days)
        )
        assert moved == 1, body

    # Ben reads those two, leaves, and three more arrive, one after the other.
    ben.reload()
    ben.open_chat(ann)
    expect(message(ben.page, "said yesterday")).to_be_visible()
    expect(message(ann.page, "said yesterday").locator(".ticks.read")).to_be_visible(timeout=5000)
    ben.reload()
    sent_to(ann, ben, ["first new one", "second new one", "third new one"])
    expect(ben.contact(ann).locator(".badge")).to_have_text("3", timeout=5000)

    ben.open_chat(ann)
    # The new ones came live; the older ones with the page the conversation loads on opening.
    expect(message(ben.page, "said two days ago")).to_be_visible()
    items = list_items(ben)
    assert items[0].startswith("day:") and items[0] not in ("day:Today", "day:Yesterday")
    assert items[1:] == [
        "said two days ago",
        "day:Yesterday",
        "said yesterday",
        "day:Today",
        "new",
        "first new one",
        "+second new one",
        "+third new one",
    ], items
    expect(ben.page.locator(".unread-divider")).to_have_text("New messages")
    # The line stays while the conversation is open; a message arriving now joins the run.
    sent_to(ann, ben, ["fourth new one"])
    expect(message(ben.page, "fourth new one")).to_have_class("message run-next")
    expect(ben.page.locator(".unread-divider")).to_have_count(1)

    # Ann's own messages: the same days and runs, and no "New messages" line.
    ann.reload()
    ann.open_chat(ben)
    expect(message(ann.page, "said two days ago")).to_be_visible()
    mine = list_items(ann)
    assert "new" not in mine and mine.count("day:Today") == 1
    assert mine[-4:] == ["first new one", "+second new one", "+third new one", "+fourth new one"]
    ben.shot("days-runs-unread")
    assert_clean(ann, ben)


def test_jump_to_latest_while_scrolled_up(browser, server):
    ann, ben = chatting(browser, server, "jan", "jim")
    ben.reload()
    ben.open_chat(ann)  # reading as they arrive: the list follows them
    sent_to(ann, ben, [f"line {i}" for i in range(1, 26)])
    latest = message(ben.page, "line 25")
    expect(latest).to_be_in_viewport()
    jump = ben.page.locator("#jump-latest")
    expect(jump).to_be_hidden()

    # Scrolled up, Ben is not pulled down when Ann writes: the button counts what came.
    ben.page.locator("#messages").evaluate("list => { list.scrollTop = 80; }")
    expect(jump).to_be_visible()
    expect(jump.locator("#jump-count")).to_be_hidden()
    ann.say("while ben reads history")
    newest = message(ben.page, "while ben reads history")
    expect(newest).to_have_count(1, timeout=5000)
    expect(jump.locator("#jump-count")).to_have_text("1")
    expect(newest).not_to_be_in_viewport()
    ben.shot("jump-to-latest")

    jump.click()
    expect(newest).to_be_in_viewport()
    expect(jump).to_be_hidden()
    expect(ben.page.locator("#composer-input")).to_be_focused()
    assert_clean(ann, ben)


def test_read_ticks_differ_in_shape_colour_and_name(browser, server):
    ann, ben = chatting(browser, server, "tia", "tom")
    ann.say("will be read")
    ticks = message(ann.page, "will be read").locator(".ticks")
    expect(ticks).to_have_attribute("aria-label", "Sent")
    expect(ticks).to_have_text("✓")
    ben.reload()
    ben.open_chat(ann)
    expect(ticks).to_have_attribute("aria-label", "Read", timeout=5000)
    expect(ticks).to_have_text("✓✓")

    ben.reload()  # Ben is no longer in the conversation: the next one stays unread
    ann.say("not read yet")
    sent = message(ann.page, "not read yet").locator(".ticks")
    expect(sent).to_have_attribute("aria-label", "Sent")
    style = "t => [getComputedStyle(t).color, getComputedStyle(t).fontWeight]"
    read_color, read_weight = ticks.evaluate(style)
    sent_color, sent_weight = sent.evaluate(style)
    assert read_color != sent_color and int(read_weight) > int(sent_weight)
    assert_clean(ann, ben)


def test_a_message_that_could_not_be_sent_waits_with_retry(browser, chat_server_factory):
    server = chat_server_factory("eventlet")
    eve, finn = chatting(browser, server, "eve", "finn")
    eve.say("before the outage")
    expect(message(eve.page, "before the outage")).to_be_visible()

    server.stop()
    expect(eve.page.locator("#banner")).to_be_visible(timeout=10_000)
    eve.say("said while the server was down")
    failed = eve.page.locator("#messages .message.failed")
    expect(failed).to_contain_text("said while the server was down")
    expect(failed).to_contain_text("Not sent: the server can't be reached.")
    expect(eve.page.locator("#composer-input")).to_have_value("")
    eve.shot("send-failed")

    server.start()
    expect(eve.page.locator("#banner")).to_be_hidden(timeout=20_000)
    failed.get_by_role("button", name="Retry").click()
    expect(failed).to_have_count(0, timeout=10_000)
    expect(message(eve.page, "said while the server was down")).to_have_count(1)
    finn.reload()
    finn.open_chat(eve)
    expect(message(finn.page, "said while the server was down")).to_have_count(1)
    assert_clean(eve, finn)


def test_signup_errors_show_under_their_fields(browser, server):
    taken = Person(browser, server, "taken")
    taken.sign_up()
    new = Person(browser, server, "new")
    page = new.page
    page.goto(new.url + "/")
    page.click("#show-signup")
    form = page.locator("#signup-form")

    def error(field: str):
        return form.locator(f'.field-error[data-field="{field}"]')

    # Nothing typed: each field says what it needs, in the page's own words.
    form.locator("button[type=submit]").click()
    expect(error("fullName")).to_have_text("Type your name.")
    expect(error("username")).to_have_text("Choose a username.")
    expect(error("password")).to_have_text("Choose a password.")
    expect(form.locator("[name=fullName]")).to_be_focused()

    # The server's refusals go under the field they are about.
    form.locator("[name=fullName]").fill("New Person")
    form.locator("[name=username]").fill(taken.username)
    form.locator("[name=password]").fill(PASSWORD)
    form.locator("[name=confirmPassword]").fill(PASSWORD + "x")
    form.locator("button[type=submit]").click()
    expect(error("confirmPassword")).to_have_text("The two passwords don't match.")
    form.locator("[name=confirmPassword]").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    expect(error("username")).to_have_text("That username is taken.")
    expect(form.locator("[name=username]")).to_have_attribute("aria-invalid", "true")
    expect(error("fullName")).to_have_text("")

    form.locator("[name=username]").fill(new.username)
    form.locator("[name=password]").fill("short")
    form.locator("[name=confirmPassword]").fill("short")
    form.locator("button[type=submit]").click()
    expect(error("password")).to_have_text("Use at least 8 characters.")
    expect(error("username")).to_have_text("")
    expect(page.locator("#auth-error")).to_have_text("")
    new.shot("signup-errors")
    assert_clean(taken, new)


def test_keyboard_enter_shift_enter_escape_and_the_focus_ring(browser, server):
    ann, ben = chatting(browser, server, "kay", "kit")
    page = ann.page
    composer = page.locator("#composer-input")
    composer.click()
    composer.press_sequentially("first line")
    composer.press("Shift+Enter")
    composer.press_sequentially("second line")
    expect(page.locator("#messages .message")).to_have_count(0)
    composer.press("Enter")
    sent = message(page, "second line")
    expect(sent).to_be_visible()
    assert sent.locator(".body").evaluate("b => b.textContent") == "first line\nsecond line"
    expect(composer).to_have_value("")

    # The composer's focus is a soft ring in the page's colours, not the browser's outline.
    composer.focus()
    outline, shadow = composer.evaluate(
        "c => [getComputedStyle(c).outlineStyle, getComputedStyle(c).boxShadow]"
    )
    assert outline == "none" and shadow != "none", (outline, shadow)

    # Escape closes a message's menu (the focus goes back to its button) and a dialog.
    open_menu(ann, "second line")
    page.keyboard.press("Escape")
    expect(page.locator("#messages .message-tools")).to_have_count(0)
    expect(sent.get_by_role("button", name="Message actions")).to_be_focused()
    page.click("#open-settings")
    expect(page.locator("#settings-dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#settings-dialog")).to_be_hidden()

    # The sidebar's rows open with the keyboard too.
    ben.reload()
    ben.contact(ann).focus()
    ben.page.keyboard.press("Enter")
    expect(ben.page.locator("#peer-name")).to_have_text(ann.full_name)
    expect(message(ben.page, "second line")).to_be_visible()
    assert_clean(ann, ben)


def test_light_and_dark_themes_follow_the_system(browser, server):
    day = Person(browser, server, "day", color_scheme="light")
    night = Person(browser, server, "night", color_scheme="dark")
    day.sign_up()
    night.sign_up()
    night.reload()
    night.open_chat(day)
    night.say("good evening")
    day.reload()
    day.open_chat(night)
    day.say("good morning")
    expect(message(night.page, "good morning")).to_be_visible(timeout=5000)
    night.say("and a second line from the dark side")
    expect(message(night.page, "second line")).to_be_visible()

    def background(person: Person, selector: str) -> str:
        return person.page.locator(selector).evaluate("e => getComputedStyle(e).backgroundColor")

    assert background(day, "body") == "rgb(238, 241, 246)"
    assert background(night, "body") == "rgb(15, 19, 26)"
    assert background(night, ".sidebar") == "rgb(24, 29, 38)"
    assert background(day, ".sidebar") == "rgb(255, 255, 255)"
    night.shot("chat-dark")
    assert_clean(day, night)


def serious_violations(page) -> list[dict]:
    """axe-core's serious and critical findings on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => (await axe.run(document, { resultTypes: ["violations"] })).violations
          .filter(v => v.impact === "serious" || v.impact === "critical")
          .map(v => ({ id: v.id, impact: v.impact, help: v.help,
                       nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ")) }))"""
    )
    return found


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_page_passes_an_accessibility_audit(browser, server, scheme):
    assert AXE.exists(), f"{AXE} is missing: `make test` installs it (npm ci)"
    # The audit script is injected as an inline script, which the page's CSP forbids.
    ann = Person(browser, server, f"amy{scheme}", color_scheme=scheme, bypass_csp=True)
    ben = Person(browser, server, f"bob{scheme}", color_scheme=scheme, bypass_csp=True)
    ben.sign_up()
    ann.page.goto(ann.url + "/")
    ann.page.wait_for_selector("#auth:not([hidden])")
    assert serious_violations(ann.page) == [], "login form"
    ann.page.click("#show-signup")
    ann.page.locator("#signup-form button[type=submit]").click()  # with its field errors
    assert serious_violations(ann.page) == [], "signup form"

    ann.sign_up()
    ann.open_chat(ben)
    ann.say("hello ben, how are you?")
    ben.reload()
    ben.open_chat(ann)
    ben.say("fine thanks")
    ann.say("glad to hear it")
    expect(message(ann.page, "fine thanks")).to_be_visible(timeout=5000)
    expect(ann.page.locator(".ticks.read").first).to_be_visible(timeout=5000)
    ann.page.locator("#messages .message").first.hover()
    assert serious_violations(ann.page) == [], "chat with a conversation open"
    assert_clean(ann, ben)
