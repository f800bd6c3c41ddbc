"""What the demo chat page shows stays true without a reload, in headless Chromium against a
real server process: read ticks come back after a reload; changes to messages further back than
the page has loaded (a moderator's hide, a reaction, a deletion) leave paging alone; a logout in
one tab, and a deactivation, bring every tab to the login form within seconds, with no
"Connection lost" banner; someone who signs up appears in everyone's open contact list; a
message stored while the page is starting (list loaded, socket not yet connected) shows up; a
catch-up whose sync cursor is refused reloads the open conversation instead of leaving a gap.
Screenshots go to test-artifacts/screenshots/live-*.png."""

from __future__ import annotations

import re

import requests
from playwright.sync_api import expect

from realtime.tests.browser import BROWSER_TESTS, PASSWORD, Person, signed_up_apart
from realtime.tests.test_chat_page_actions import chatting, message, only_conversation
from realtime.tests.test_chat_page_groups import create_group, open_group, signed_up
from realtime.tests.test_chat_page_search import moderator_create
from realtime.tests.test_moderation import AdminSession

pytestmark = BROWSER_TESTS

# The server closes an ended session's sockets within 2 seconds (docs/realtime.md, "Sessions").
WITHIN = 5000


def assert_clean(*people: Person) -> None:
    for person in people:
        assert not person.dialogs, f"{person.username} saw a dialog: {person.dialogs}"
        assert not person.errors, f"{person.username}'s page failed: {person.errors}"


# Counts the times the page's "Connection lost — reconnecting…" banner is shown.
COUNT_BANNERS = """
window.__bannersShown = 0;
document.addEventListener("DOMContentLoaded", () => {
  const banner = document.getElementById("banner");
  new MutationObserver(() => {
    if (!banner.hidden) window.__bannersShown += 1;
  }).observe(banner, { attributes: true, attributeFilter: ["hidden"] });
});
"""


def another_tab(person: Person):
    """A second tab of `person`'s browser (the same cookies: logged in already), counting the
    times it shows the "Connection lost" banner."""
    person.context.add_init_script(COUNT_BANNERS)
    page = person.context.new_page()
    page.on("pageerror", lambda error: person.errors.append(str(error)))
    page.on("dialog", lambda dialog: (person.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(person.url + "/")
    page.wait_for_selector("#app:not([hidden])")
    return page


def expect_logged_out(page, says) -> None:
    """The login form, saying why; no connection was lost, so no "Connection lost" banner
    showed on the way, nor over the form."""
    expect(page.locator("#login-form")).to_be_visible(timeout=WITHIN)
    expect(page.locator("#app")).to_be_hidden()
    expect(page.locator("#auth-error")).to_have_text(says)
    expect(page.locator("#banner")).to_be_hidden()
    assert page.evaluate("window.__bannersShown") == 0


def ticks(person: Person, text: str):
    return message(person.page, text).locator(".ticks")


# ---- read ticks -----------------------------------------------------------------------------


def test_read_ticks_survive_a_reload(browser, server):
    ada, bru, cyd = signed_up(browser, server, "ada", "bru", "cyd")
    ada.reload()
    ada.open_chat(bru)
    ada.say("hi bru")
    expect(ticks(ada, "hi bru")).to_have_text("✓")
    bru.reload()
    bru.open_chat(ada)
    expect(ticks(ada, "hi bru")).to_have_text("✓✓", timeout=WITHIN)

    create_group(ada, "Trio", [bru, cyd])
    ada.say("hi both")
    for member in (bru, cyd):
        member.reload()
        open_group(member, "Trio")
    expect(ticks(ada, "hi both")).to_have_text("✓✓", timeout=WITHIN)
    expect(ticks(ada, "hi both")).to_have_attribute("title", "read by 2 of 2")

    # After a reload the ticks come from the conversations' read markers (readSeqs).
    ada.reload()
    ada.open_chat(bru)
    expect(ticks(ada, "hi bru")).to_have_text("✓✓")
    open_group(ada, "Trio")
    expect(ticks(ada, "hi both")).to_have_text("✓✓")
    expect(ticks(ada, "hi both")).to_have_attribute("title", "read by 2 of 2")
    ada.shot("live-ticks-after-reload")
    assert_clean(ada, bru, cyd)


# ---- changes to messages the page has not loaded ----------------------------------------------

SEND_MANY = """async ([conversationId, first, last]) => {
  for (let i = first; i <= last; i++) {
    const response = await fetch(`/api/conversations/${conversationId}/messages`, {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({ message: `old ${i}` }),
    });
    if (response.status !== 201) throw new Error(await response.text());
  }
}"""

IDS = """async ([conversationId]) => {
  const response = await fetch(`/api/conversations/${conversationId}/messages?before=11&limit=10`);
  const page = await response.json();
  return Object.fromEntries(page.messages.map((m) => [m.seq, m._id]));
}"""

CHANGE = """async ([method, path]) => {
  const response = await fetch(path, { method });
  if (!response.ok) throw new Error(await response.text());
}"""


def test_hiding_reacting_to_or_deleting_an_older_message_leaves_paging_alone(browser, server):
    moderator = moderator_create(server)
    moe, nia = chatting(browser, server, "moe", "nia")
    moe.say("old 1")
    expect(message(moe.page, "old 1")).to_be_visible()
    conversation_id = only_conversation(moe)
    moe.page.evaluate(SEND_MANY, [conversation_id, 2, 40])
    ids = moe.page.evaluate(IDS, [conversation_id])
    nia.reload()
    nia.open_chat(moe)
    messages = nia.page.locator("#messages li[data-seq]")
    expect(messages).to_have_count(30)
    expect(messages.first).to_contain_text("old 11")

    # Far above what Nia has loaded: a moderator hides the 3rd, Moe reacts to the 4th and
    # deletes the 5th. Nia's page hears of each, and holds none of them until its page loads.
    AdminSession(server.url, moderator).run_action("hide", [ids["3"]])
    moe.page.evaluate(CHANGE, ["POST", f"/api/messages/{ids['4']}/reactions/%F0%9F%91%8D"])
    moe.page.evaluate(CHANGE, ["DELETE", f"/api/messages/{ids['5']}"])
    moe.say("old 41")
    expect(messages.last).to_contain_text("old 41", timeout=WITHIN)
    expect(messages).to_have_count(31)
    expect(messages.first).to_contain_text("old 11")

    # Paging goes on from the oldest loaded, and every message between arrives, changed.
    nia.page.locator("#messages").evaluate("list => { list.scrollTop = 0; }")
    expect(messages).to_have_count(41, timeout=WITHIN)
    seqs = [int(seq) for seq in messages.evaluate_all("rows => rows.map((r) => r.dataset.seq)")]
    assert seqs == list(range(1, 42)), seqs
    expect(messages.nth(2)).to_contain_text("hidden by a moderator")
    expect(messages.nth(3).locator(".reactions")).to_contain_text("👍 1")
    expect(messages.nth(4)).to_contain_text("This message was deleted.")
    expect(messages.nth(5)).to_contain_text("old 6")
    nia.shot("live-older-changes")
    assert_clean(moe, nia)


# ---- sessions that end ------------------------------------------------------------------------


def test_a_logout_in_one_tab_reaches_the_other_tabs(browser, server):
    """Through the page's tabs' channel (BroadcastChannel)."""
    ola = Person(browser, server, "ola")
    ola.sign_up()
    other = another_tab(ola)
    ola.page.click("#logout")
    expect(ola.page.locator("#login-form")).to_be_visible()
    expect_logged_out(other, "You logged out in another tab.")
    assert_clean(ola)


def test_a_logout_reaches_a_tab_that_only_the_server_can_tell(browser, server):
    """Without BroadcastChannel, the server's `sessionEnded` and close bring the login form."""
    pam = Person(browser, server, "pam")
    pam.context.add_init_script("delete window.BroadcastChannel;")
    pam.sign_up()
    other = another_tab(pam)
    assert other.evaluate("typeof BroadcastChannel") == "undefined"
    pam.page.click("#logout")
    expect(pam.page.locator("#login-form")).to_be_visible()
    expect_logged_out(other, re.compile("session has ended"))
    pam.shot("live-logged-out")
    assert_clean(pam)


def test_a_deactivated_user_sees_the_login_form_in_every_tab(browser, server):
    moderator = moderator_create(server)
    quin = Person(browser, server, "quin")
    quin.sign_up()
    other = another_tab(quin)
    quin.reload()  # this tab counts its banners too
    user_id = quin.page.evaluate("fetch('/api/auth/me').then((r) => r.json()).then((me) => me._id)")
    admin = AdminSession(server.url, moderator)
    response = admin.http.post(
        f"{server.url}/admin/accounts/user/",
        data={
            "action": "deactivate",
            "_selected_action": [user_id],
            "index": 0,
            "csrfmiddlewaretoken": admin.http.cookies["csrftoken"],
        },
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text
    for page in (quin.page, other):
        expect_logged_out(page, "Your account was deactivated.")
    assert_clean(quin)


# ---- new users ----------------------------------------------------------------------------


def test_someone_who_signs_up_appears_in_open_contact_lists(browser, server):
    rae = Person(browser, server, "rae")
    rae.sign_up()
    sid = Person(browser, server, "sid")
    sid.sign_up()
    # Rae's page was loaded before Sid existed: Sid shows up in it all the same.
    expect(rae.contact(sid)).to_be_visible(timeout=WITHIN)
    rae.page.fill("#search", sid.username)
    expect(rae.page.locator(".contact[data-peer]")).to_have_count(1)
    rae.open_chat(sid)
    rae.say("welcome!")
    expect(sid.contact(rae)).to_contain_text("welcome!")
    sid.open_chat(rae)
    expect(sid.page.locator(".message:not(.mine)", has_text="welcome!")).to_be_visible()
    rae.shot("live-new-contact")
    assert_clean(rae, sid)


def test_a_message_sent_while_the_page_starts_shows_up(browser, server):
    # Ned's page has its conversation list (and the sync cursor that comes with it) but no
    # socket yet when Ola's message is stored: the socket's first connect catches up on it.
    ola = Person(browser, server, "tove")
    ola.sign_up()
    ned = Person(browser, server, "wren")
    ned.sign_up()
    ola.reload()
    ned_id = ola.contact(ned).get_attribute("data-peer")
    ola_session = requests.Session()
    login = ola_session.post(
        f"{server.url}/api/auth/login",
        json={"username": ola.username, "password": PASSWORD},
        timeout=10,
    )
    assert login.status_code == 200, login.text
    bearer = {"Authorization": f"Bearer {login.json()['access']}"}

    def list_then_a_message(route):
        answer = route.fetch()
        sent = requests.post(
            f"{server.url}/api/messages/send/{ned_id}",
            json={"message": "sent while you were loading"},
            headers=bearer,
            timeout=10,
        )
        assert sent.status_code == 201, sent.text
        route.fulfill(response=answer)

    ned.page.route("**/api/conversations", list_then_a_message, times=1)
    ned.reload()
    expect(ned.contact(ola)).to_contain_text("sent while you were loading", timeout=WITHIN)
    expect(ned.contact(ola).locator(".badge")).to_have_text("1")
    ned.open_chat(ola)
    expect(message(ned.page, "sent while you were loading")).to_have_count(1)
    assert_clean(ola, ned)


# ---- catching up after a long time away -------------------------------------------------------

CURSOR_INVALID = {"error": "The sync cursor is unknown or expired.", "code": "cursor_invalid"}


def test_a_sync_cursor_too_old_to_catch_up_reloads_the_open_conversation(
    browser, chat_server_factory
):
    # Gio's server goes down and comes back; meanwhile Hank writes to him through another
    # server (no Redis: nothing reaches Gio live), and Gio's catch-up finds its cursor refused.
    hank, gio = signed_up_apart(browser, chat_server_factory, "hank", "gio")
    gio_server = gio.server
    gio.open_chat(hank)
    gio.say("before the outage")
    expect(message(gio.page, "before the outage")).to_be_visible()
    hank.reload()
    hank.open_chat(gio)
    expect(message(hank.page, "before the outage")).to_be_visible()
    gio.page.route("**/api/sync?**", lambda route: route.fulfill(status=410, json=CURSOR_INVALID))

    gio_server.stop()
    expect(gio.page.locator("#banner")).to_be_visible(timeout=10_000)
    hank.say("missed 1")
    hank.say("missed 2")
    expect(message(hank.page, "missed 2")).to_be_visible()
    gio_server.start()
    expect(gio.page.locator("#banner")).to_be_hidden(timeout=20_000)

    # What Gio missed is there, in order, from the conversation's latest page.
    texts = gio.page.locator("#messages .message .body")
    expect(texts).to_have_text(["before the outage", "missed 1", "missed 2"], timeout=WITHIN)
    assert_clean(gio, hank)
