"""Message actions on the demo chat page, in headless Chromium against a real server process:
the author edits a message from its menu and deletes it after an inline confirmation, anyone
replies (a quote that leads to the original, loading older pages to find it) and reacts from
the emoji picker or by clicking a reaction chip; every change reaches the other person and the
author's other tab live; a refusal (too late to edit) shows inline, never as a dialog; changes
to messages further back than the page has loaded don't disturb paging. Screenshots go to
test-artifacts/screenshots/actions-*.png."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from realtime.tests.browser import BROWSER_TESTS, Person

PHONE = {"width": 390, "height": 780}

pytestmark = BROWSER_TESTS


def chatting(browser, server, first: str, second: str, viewports=None) -> tuple[Person, Person]:
    """Two people signed up in this order; the first has the second's chat open (she reloads:
    her page was loaded before the second person existed)."""
    viewports = viewports or {}
    one = Person(browser, server, first, viewport=viewports.get(first))
    two = Person(browser, server, second, viewport=viewports.get(second))
    one.sign_up()
    two.sign_up()
    one.reload()
    one.open_chat(two)
    return one, two


def message(page, text: str):
    """The message whose own text (not a quote of another) contains `text`."""
    return page.locator("#messages .message").filter(has=page.locator(".body", has_text=text))


def open_menu(person: Person, text: str):
    """The menu of the message showing `text`, opened from its "⋯" button."""
    bubble = message(person.page, text)
    bubble.hover()
    bubble.get_by_role("button", name="Message actions").click()
    tools = person.page.locator("#messages .message-tools")
    expect(tools).to_be_visible()
    return tools


def second_tab(person: Person, other: Person):
    """Another tab of `person` (the same browser context: already logged in), on `other`'s chat."""
    page = person.context.new_page()
    page.on("pageerror", lambda error: person.errors.append(str(error)))
    page.on("dialog", lambda dialog: (person.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(person.url + "/")
    page.wait_for_selector("#app:not([hidden])")
    page.locator(".contact[data-peer]", has_text=other.full_name).click()
    return page


def only_conversation(person: Person) -> str:
    """The id of `person`'s one conversation."""
    return person.page.evaluate(
        "fetch('/api/conversations').then(r => r.json()).then(d => d.conversations[0]._id)"
    )


def assert_clean(*people: Person) -> None:
    for person in people:
        assert not person.dialogs, f"{person.username} saw a dialog: {person.dialogs}"
        assert not person.errors, f"{person.username}'s page failed: {person.errors}"


def test_the_author_edits_a_message_and_everyone_sees_it_live(browser, server):
    abe, bea = chatting(browser, server, "abe", "bea")
    abe.say("see you at 5")
    bea.reload()
    bea.open_chat(abe)
    expect(message(bea.page, "see you at 5")).to_be_visible()
    abe_tab = second_tab(abe, bea)
    expect(message(abe_tab, "see you at 5")).to_be_visible()

    # Bea may reply and react to Abe's message, not edit or delete it.
    tools = open_menu(bea, "see you at 5")
    expect(tools.get_by_role("button")).to_have_text(["Reply", "React"])
    bea.page.keyboard.press("Escape")
    expect(tools).to_have_count(0)

    # Abe's menu has all four; Edit puts the text in the composer, under "Editing message".
    abe.page.fill("#composer-input", "a draft")
    tools = open_menu(abe, "see you at 5")
    expect(tools.get_by_role("button")).to_have_text(["Reply", "React", "Edit", "Delete"])
    abe.shot("actions-menu")
    tools.get_by_role("button", name="Edit the message").click()
    expect(abe.page.locator("#composer-context")).to_contain_text("Editing message")
    expect(abe.page.locator("#composer-input")).to_have_value("see you at 5")
    expect(abe.page.locator("#composer-input")).to_be_focused()
    abe.page.fill("#composer-input", "see you at 6")
    abe.page.press("#composer-input", "Enter")

    # The new text and "edited", live for Bea and in Abe's other tab; the draft is back.
    for page in (abe.page, bea.page, abe_tab):
        edited = message(page, "see you at 6")
        expect(edited.locator(".edited")).to_have_text("edited", timeout=5000)
        expect(message(page, "see you at 5")).to_have_count(0)
    expect(abe.page.locator("#composer-context")).to_be_hidden()
    expect(abe.page.locator("#composer-input")).to_have_value("a draft")
    bea.shot("actions-edited")
    assert_clean(abe, bea)


def test_the_author_deletes_a_message_after_confirming_and_it_becomes_a_tombstone(browser, server):
    cal, deb = chatting(browser, server, "cal", "deb")
    cal.say("my secret plan")
    cal.say("nothing to see")
    deb.reload()
    deb.open_chat(cal)
    expect(message(deb.page, "my secret plan")).to_be_visible()

    # Delete asks first; "No" keeps the message, and Escape closes the menu, giving the
    # keyboard back to the message's "⋯" button.
    tools = open_menu(cal, "my secret plan")
    tools.get_by_role("button", name="Delete the message").click()
    expect(tools).to_contain_text("Delete for everyone?")
    expect(tools.get_by_role("button", name="No, keep it")).to_be_focused()
    tools.get_by_role("button", name="No, keep it").click()
    expect(tools).to_have_count(0)
    expect(message(cal.page, "my secret plan")).to_be_visible()
    open_menu(cal, "my secret plan")
    cal.page.keyboard.press("Escape")
    expect(tools).to_have_count(0)
    button = message(cal.page, "my secret plan").get_by_role("button", name="Message actions")
    expect(button).to_be_focused()

    # From the keyboard this time: the focused "⋯" opens the menu on its first item (Reply);
    # Delete is the fourth; then "No" has the focus and "Yes" is just before it.
    cal.page.keyboard.press("Enter")
    expect(tools.get_by_role("button", name="Reply to the message")).to_be_focused()
    for _ in range(3):
        cal.page.keyboard.press("Tab")
    cal.page.keyboard.press("Enter")
    expect(tools.get_by_role("button", name="No, keep it")).to_be_focused()
    cal.shot("actions-delete-confirm")
    cal.page.keyboard.press("Shift+Tab")
    cal.page.keyboard.press("Enter")

    for person in (cal, deb):
        tombstone = person.page.locator("#messages .message.deleted-msg")
        expect(tombstone).to_have_text(re.compile("^This message was deleted"), timeout=5000)
        expect(tombstone.get_by_role("button", name="Message actions")).to_have_count(0)
        expect(person.page.get_by_text("my secret plan")).to_have_count(0)
    expect(message(deb.page, "nothing to see")).to_be_visible()
    deb.shot("actions-deleted")

    # Deleting the last message shows in the other's conversation list.
    open_menu(cal, "nothing to see").get_by_role("button", name="Delete the message").click()
    cal.page.get_by_role("button", name="Yes, delete").click()
    expect(deb.contact(cal).locator(".preview")).to_have_text("message deleted", timeout=5000)
    assert "my secret plan" not in deb.page.content()
    assert_clean(cal, deb)


SEED = """async ([conversationId, count, replyTo]) => {
  const send = async (body) => {
    const response = await fetch(`/api/conversations/${conversationId}/messages`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
      },
      body: JSON.stringify(body),
    });
    if (response.status !== 201) throw new Error(await response.text());
  };
  for (let i = 1; i <= count; i++) await send({ message: `filler ${i}` });
  await send({ message: "answering from far below", replyTo });
}"""


def test_a_reply_quotes_the_original_and_leads_back_to_it(browser, server):
    eli, fox = chatting(browser, server, "eli", "fox")
    eli.say("where shall we meet?")
    fox.reload()
    fox.open_chat(eli)

    # Fox replies from the menu: the bar above the composer says to whom, and what.
    tools = open_menu(fox, "where shall we meet?")
    tools.get_by_role("button", name="Reply to the message").click()
    bar = fox.page.locator("#composer-context")
    expect(bar.locator(".context-text")).to_have_text(
        f"Replying to {eli.full_name}: where shall we meet?"
    )
    expect(fox.page.locator("#composer-input")).to_be_focused()
    fox.say("at the station")
    expect(bar).to_be_hidden()

    # Both see the quote: who wrote the original and how it starts.
    for person in (fox, eli):
        quote = message(person.page, "at the station").locator(".quote")
        expect(quote.locator(".quote-name")).to_have_text(eli.full_name, timeout=5000)
        expect(quote.locator(".quote-text")).to_have_text("where shall we meet?")
    eli.shot("actions-reply")

    # A reply to a message further back than the page holds: the quote loads older pages until
    # the original is there, scrolls to it and makes it flash.
    conversation_id = only_conversation(eli)
    original_id = message(eli.page, "where shall we meet?").get_attribute("data-id")
    eli.page.evaluate(SEED, [conversation_id, 40, original_id])
    expect(message(fox.page, "answering from far below")).to_be_visible(timeout=10_000)
    fox.reload()
    fox.open_chat(eli)
    far = message(fox.page, "answering from far below")
    expect(far).to_be_visible()
    expect(message(fox.page, "where shall we meet?")).to_have_count(0)  # not loaded yet
    far.locator(".quote").click()
    original = message(fox.page, "where shall we meet?")
    expect(original).to_have_class(re.compile("highlight"), timeout=5000)
    expect(original).to_be_in_viewport()
    fox.shot("actions-reply-jump")

    # The original is deleted: every quote of it says so, live.
    open_menu(eli, "where shall we meet?").get_by_role("button", name="Delete the message").click()
    eli.page.get_by_role("button", name="Yes, delete").click()
    quotes = fox.page.locator("#messages .quote-text")
    expect(quotes).to_have_text(["deleted message", "deleted message"], timeout=5000)
    assert_clean(eli, fox)


def test_reactions_from_the_picker_and_the_chips(browser, server):
    # Hux is on a phone: the "⋯" button is always there, no hover needed.
    gil, hux = chatting(browser, server, "gil", "hux", viewports={"hux": PHONE})
    gil.say("pizza tonight?")
    hux.reload()
    hux.open_chat(gil)

    tools = open_menu(hux, "pizza tonight?")
    tools.get_by_role("button", name="React to the message").click()
    expect(tools.get_by_role("button")).to_have_count(8)
    hux.shot("actions-picker-mobile")
    tools.get_by_role("button", name="React with thumbs up").click()
    hux_chip = message(hux.page, "pizza tonight?").locator(".chip")
    expect(hux_chip).to_have_text("👍 1")
    expect(hux_chip).to_have_class("chip mine")

    # Gil sees it live, not as his own, with who reacted in its title.
    chip = message(gil.page, "pizza tonight?").locator(".chip")
    expect(chip).to_have_text("👍 1", timeout=5000)
    expect(chip).to_have_class("chip")
    expect(chip).to_have_attribute("title", f"👍 by {hux.full_name}")

    # Clicking the chip adds his; clicking again takes it back.
    chip.click()
    expect(chip).to_have_text("👍 2")
    expect(chip).to_have_class("chip mine")
    expect(chip).to_have_attribute("aria-pressed", "true")
    expect(chip).to_have_attribute("title", f"👍 by {hux.full_name} and you")
    expect(hux_chip).to_have_text("👍 2", timeout=5000)
    gil.shot("actions-reactions")
    chip.click()
    expect(chip).to_have_text("👍 1")
    expect(chip).to_have_class("chip")
    expect(hux_chip).to_have_text("👍 1", timeout=5000)
    assert_clean(gil, hux)


def test_a_refused_edit_shows_inline(browser, chat_server_factory):
    # A server where messages can be edited for one second only.
    server = chat_server_factory("eventlet", MESSAGE_EDIT_WINDOW_SECONDS="1")
    kit, lev = chatting(browser, server, "kit", "lev")
    kit.say("typo in thsi")
    expect(message(kit.page, "typo in thsi")).to_be_visible()
    kit.page.wait_for_timeout(1500)  # the edit window is time itself: let it pass

    open_menu(kit, "typo in thsi").get_by_role("button", name="Edit the message").click()
    kit.page.fill("#composer-input", "typo in this")
    kit.page.press("#composer-input", "Enter")
    error = kit.page.locator("#composer-error")
    expect(error).to_contain_text("Too late to edit")
    # Still editing, the text kept, the message unchanged; Escape gives up.
    expect(kit.page.locator("#composer-context")).to_contain_text("Editing message")
    expect(kit.page.locator("#composer-input")).to_have_value("typo in this")
    expect(message(kit.page, "typo in thsi")).to_be_visible()
    kit.shot("actions-refused")
    kit.page.press("#composer-input", "Escape")
    expect(kit.page.locator("#composer-context")).to_be_hidden()
    expect(kit.page.locator("#composer-input")).to_have_value("")
    expect(error).to_have_text("")
    assert_clean(kit, lev)


EDIT = """async ([conversationId, seq, text]) => {
  const headers = {
    "Content-Type": "application/json",
  };
  const page = await (await fetch(
    `/api/conversations/${conversationId}/messages?after=${seq - 1}&before=${seq + 1}`,
    { headers },
  )).json();
  const response = await fetch(`/api/messages/${page.messages[0]._id}`, {
    method: "PATCH", headers, body: JSON.stringify({ message: text }),
  });
  if (response.status !== 200) throw new Error(await response.text());
}"""


def test_a_change_further_back_than_the_page_holds_does_not_disturb_paging(browser, server):
    mo, nell = chatting(browser, server, "mo", "nell")
    mo.say("old 1")
    expect(message(mo.page, "old 1")).to_be_visible()
    conversation_id = only_conversation(mo)
    mo.page.evaluate(
        """async ([conversationId]) => {
          for (let i = 2; i <= 40; i++) {
            await fetch(`/api/conversations/${conversationId}/messages`, {
              method: "POST",
              headers: {"Content-Type": "application/json"},
              body: JSON.stringify({ message: `old ${i}` }),
            });
          }
        }""",
        [conversation_id],
    )
    nell.reload()
    nell.open_chat(mo)
    messages = nell.page.locator("#messages .message")
    expect(messages).to_have_count(30)
    expect(messages.first).to_contain_text("old 11")

    # Mo edits her 2nd message, far above Nell's page: he hears of it, but it waits for its page.
    mo.page.evaluate(EDIT, [conversation_id, 2, "old 2, edited"])
    mo.say("old 41")
    expect(messages.last).to_contain_text("old 41", timeout=5000)
    expect(messages).to_have_count(31)
    nell.page.locator("#messages").evaluate("list => { list.scrollTop = 0; }")
    expect(messages).to_have_count(41, timeout=5000)
    texts = [re.match(r"old \d+(, edited)?", text)[0] for text in messages.all_inner_texts()]
    assert texts == ["old 1", "old 2, edited", *[f"old {i}" for i in range(3, 42)]], texts
    expect(message(nell.page, "old 2, edited").locator(".edited")).to_be_visible()
    assert_clean(mo, nell)
