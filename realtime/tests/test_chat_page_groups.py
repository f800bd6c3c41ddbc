"""Group conversations on the demo chat page, in headless Chromium against a real server
process: a group made on the page appears live in every member's list; messages reach every
member live with the sender's name, unread badges and read ticks counting members; membership
changes show as system lines; the owner removes a member and renames the group from the member
panel; the removed member loses the group at once, and a member leaves it from a phone; older
history loads on scrolling up. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from realtime.tests.browser import BROWSER_TESTS, Person

PHONE = {"width": 390, "height": 780}

pytestmark = BROWSER_TESTS


def signed_up(browser, server, *names: str, viewports=None) -> list[Person]:
    """People signed up in this order: each page was loaded before the next person existed."""
    viewports = viewports or {}
    people = [Person(browser, server, name, viewport=viewports.get(name)) for name in names]
    for person in people:
        person.sign_up()
    return people


def group_row(person: Person, name: str):
    return person.page.locator(".contact[data-conversation]", has_text=name)


def create_group(owner: Person, name: str, members: list[Person]) -> None:
    """From the sidebar's "New group" dialog, picking each member through its search box."""
    page = owner.page
    page.click("#new-group")
    dialog = page.locator("#group-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("#group-name").fill(name)
    for member in members:
        dialog.locator("#group-search").fill(member.username)
        dialog.locator(".pick", has_text=member.username).locator("input").check()
    # Narrowing the search did not lose a tick.
    dialog.locator("#group-search").fill("")
    expect(dialog.locator(".pick input:checked")).to_have_count(len(members))
    dialog.locator("#group-create").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#peer-name")).to_have_text(name)


def open_group(person: Person, name: str) -> None:
    group_row(person, name).click()
    expect(person.page.locator("#peer-name")).to_have_text(name)


def open_members(person: Person):
    person.page.click("#members-button")
    panel = person.page.locator("#members-dialog")
    expect(panel).to_be_visible()
    return panel


def member(panel, person: Person):
    return panel.locator(".member", has_text=person.full_name)


def others_message(person: Person, text: str):
    return person.page.locator(".message:not(.mine)", has_text=text)


def assert_clean(*people: Person) -> None:
    for person in people:
        assert not person.dialogs, f"{person.username} saw a dialog: {person.dialogs}"
        assert not person.errors, f"{person.username}'s page failed: {person.errors}"


def test_a_group_made_on_the_page_appears_live_for_every_member(browser, server):
    ann, ben, cat = signed_up(browser, server, "ann", "ben", "cat")
    ann.reload()  # her sidebar now lists Ben and Cat
    create_group(ann, "Road trip", [ben, cat])
    expect(ann.page.locator(".system-line", has_text="created the group Road trip")).to_be_visible()
    expect(group_row(ann, "Road trip")).to_contain_text("3 members")
    expect(ann.page.locator("#peer-sub")).to_have_text("3 members")

    # Ben's page was loaded before Cat existed, and neither reloads: the group arrives live,
    # with its member count and the creation as one unread message.
    for person in (ben, cat):
        row = group_row(person, "Road trip")
        expect(row).to_be_visible(timeout=5000)
        expect(row).to_contain_text("3 members")
        expect(row.locator(".badge")).to_have_text("1")
    ben.shot("group-sidebar")

    # The member panel lists everyone with their role and presence.
    open_group(ben, "Road trip")
    expect(ben.page.locator(".system-line", has_text="created the group")).to_be_visible()
    expect(group_row(ben, "Road trip").locator(".badge")).to_have_count(0)
    panel = open_members(ben)
    expect(panel.locator(".member")).to_have_count(3)
    expect(member(panel, ann).locator(".role")).to_have_text("owner")
    expect(member(panel, ann).locator(".dot.online")).to_be_visible(timeout=5000)
    # Ben is a plain member: no renaming, adding or removing, but he may leave.
    expect(panel.locator("#rename-form")).to_be_hidden()
    expect(panel.locator("#add-members")).to_be_hidden()
    expect(panel.locator(".member button")).to_have_count(0)
    expect(panel.locator("#leave-group")).to_be_visible()
    ben.shot("group-members-panel")
    panel.locator(".close").click()
    expect(panel).to_be_hidden()
    assert_clean(ann, ben, cat)


def test_group_messages_reach_every_member_live_with_names_badges_and_ticks(browser, server):
    dan, eve, fay = signed_up(browser, server, "dan", "eve", "fay")
    dan.reload()
    create_group(dan, "Book club", [eve])
    group_row(eve, "Book club").wait_for(timeout=5000)
    open_group(eve, "Book club")

    # Dan adds Fay from the member panel: everyone sees the system line, Fay gets the group.
    panel = open_members(dan)
    panel.locator("#add-search").fill(fay.username)
    panel.locator(".pick", has_text=fay.username).locator("input").check()
    panel.locator("#add-members-button").click()
    expect(panel.locator(".member")).to_have_count(3)
    expect(panel.locator("#members-error")).to_have_text("")
    panel.locator(".close").click()
    added = f"{dan.username} added {fay.username}"
    expect(dan.page.locator(".system-line", has_text=added)).to_be_visible()
    expect(eve.page.locator(".system-line", has_text=added)).to_be_visible(timeout=5000)
    expect(eve.page.locator("#peer-sub")).to_have_text("3 members")
    expect(group_row(fay, "Book club")).to_contain_text("3 members", timeout=5000)

    # Fay is not looking at the group: Dan's message is a badge and a preview naming him.
    dan.say("hello from dan")
    expect(others_message(eve, "hello from dan").locator(".sender")).to_have_text(dan.full_name)
    fay_row = group_row(fay, "Book club")
    expect(fay_row.locator(".badge")).to_have_text("2", timeout=5000)  # the "added" line and Dan's
    expect(fay_row.locator(".preview")).to_have_text(f"{dan.full_name}: hello from dan")
    fay.shot("group-unread")

    open_group(fay, "Book club")
    expect(fay.page.locator(".system-line", has_text=added)).to_be_visible()
    expect(others_message(fay, "hello from dan").locator(".sender")).to_have_text(dan.full_name)
    fay.say("fay here")
    for person in (dan, eve):
        message = others_message(person, "fay here")
        expect(message.locator(".sender")).to_have_text(fay.full_name, timeout=5000)

    # Typing names who types; then Eve's message arrives live at both others.
    eve.page.type("#composer-input", "eve")
    expect(dan.page.locator("#typing")).to_have_text(f"{eve.full_name} is typing…", timeout=5000)
    eve.page.fill("#composer-input", "eve too")
    eve.page.press("#composer-input", "Enter")
    for person in (dan, fay):
        message = others_message(person, "eve too")
        expect(message.locator(".sender")).to_have_text(eve.full_name, timeout=5000)
    expect(dan.page.locator("#typing")).to_be_hidden()

    # Both others have read Dan's message: two ticks, and the title says how many of how many.
    ticks = dan.page.locator(".message.mine", has_text="hello from dan").locator(".ticks")
    expect(ticks).to_have_class("ticks read", timeout=5000)
    expect(ticks).to_have_attribute("title", "read by 2 of 2")
    expect(ticks).to_have_text("✓✓")
    dan.shot("group-chat")
    assert_clean(dan, eve, fay)


def test_a_removed_member_loses_the_group_live_and_a_member_leaves_it(browser, server):
    gus, hal, ivy = signed_up(browser, server, "gus", "hal", "ivy", viewports={"ivy": PHONE})
    gus.reload()
    create_group(gus, "Climbing", [hal, ivy])
    group_row(hal, "Climbing").wait_for(timeout=5000)
    open_group(hal, "Climbing")

    # The owner removes Hal: Hal's page drops the group at once and says why.
    panel = open_members(gus)
    panel.locator(".member", has_text=hal.full_name).get_by_role("button", name="Remove").click()
    expect(panel.locator(".member")).to_have_count(2)
    gus.shot("group-member-removed")
    expect(group_row(hal, "Climbing")).to_have_count(0, timeout=5000)
    expect(hal.page.locator("#notice")).to_have_text("You are no longer a member of Climbing.")
    expect(hal.page.locator("#messages .message, #messages .system-line")).to_have_count(0)
    hal.shot("group-removed-notice")

    # The owner renames the group; Ivy's list follows.
    panel.locator("#rename-input").fill("Bouldering")
    panel.locator("#rename-form button").click()
    expect(panel.locator("#members-title")).to_have_text("Bouldering")
    panel.locator(".close").click()
    expect(group_row(ivy, "Bouldering")).to_be_visible(timeout=5000)
    expect(gus.page.locator("#peer-name")).to_have_text("Bouldering")

    # Ivy (on a phone) gets the group's messages; Hal no longer does.
    gus.say("after hal left")
    open_group(ivy, "Bouldering")
    assert ivy.page.locator(".sidebar").is_hidden()
    expect(ivy.page.locator(".system-line", has_text=f"removed {hal.username}")).to_be_visible()
    others_message(ivy, "after hal left").wait_for(timeout=5000)
    ivy.say("ivy says bye")
    others_message(gus, "ivy says bye").wait_for(timeout=5000)
    expect(hal.page.get_by_text("after hal left")).to_have_count(0)
    expect(hal.page.get_by_text("ivy says bye")).to_have_count(0)
    expect(hal.page.locator(".contact[data-conversation]")).to_have_count(0)

    # Ivy leaves from the member panel: the conversation closes and the group leaves her list.
    panel = open_members(ivy)
    expect(panel.locator("#add-members")).to_be_hidden()
    ivy.shot("group-members-mobile")
    panel.locator("#leave-group").click()
    expect(panel).to_be_hidden()
    expect(ivy.page.locator("#notice")).to_have_text("You left Bouldering.")
    ivy.page.click("#back")
    expect(ivy.page.locator(".sidebar")).to_be_visible()
    expect(group_row(ivy, "Bouldering")).to_have_count(0)
    expect(gus.page.locator(".system-line", has_text=f"{ivy.username} left")).to_be_visible(
        timeout=5000
    )
    expect(gus.page.locator("#peer-sub")).to_have_text("1 member")
    assert_clean(gus, hal, ivy)


SEED = """async ([conversationId, count]) => {
  for (let i = 1; i <= count; i++) {
    const response = await fetch(`/api/conversations/${conversationId}/messages`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
      },
      body: JSON.stringify({ message: `old ${i}` }),
    });
    if (response.status !== 201) throw new Error(await response.text());
  }
}"""


def test_older_group_history_loads_when_scrolling_up(browser, server):
    jon, kim = signed_up(browser, server, "jon", "kim")
    jon.reload()
    create_group(jon, "Archive", [kim])
    conversation_id = group_row(jon, "Archive").get_attribute("data-conversation")
    jon.page.evaluate(SEED, [conversation_id, 40])
    expect(group_row(kim, "Archive").locator(".badge")).to_have_text("41", timeout=10_000)

    # After a reload (the live messages are gone from the page), the latest page (30) comes
    # first; scrolling to the top brings the rest, in order.
    kim.reload()
    expect(group_row(kim, "Archive").locator(".badge")).to_have_text("41")
    open_group(kim, "Archive")
    messages = kim.page.locator("#messages .message")
    expect(messages.last).to_contain_text("old 40")
    expect(messages).to_have_count(30)
    kim.page.locator("#messages").evaluate("list => { list.scrollTop = 0; }")
    expect(messages).to_have_count(40, timeout=5000)
    expect(kim.page.locator("#messages .system-line")).to_have_count(1)
    texts = [re.search(r"old \d+", text)[0] for text in messages.all_inner_texts()]
    assert texts == [f"old {i}" for i in range(1, 41)], texts
    # A run of messages from one person is headed by their name once.
    expect(kim.page.locator("#messages .message .sender")).to_have_count(1)
    assert_clean(jon, kim)
