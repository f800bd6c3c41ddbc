"""The settings panel and "Forgot password?" of the demo chat page, in headless Chromium against
a real server process: a profile change reaches another person's page; a password change, and
ending a session from the list, log the other browser out within seconds; deleting the account
returns to the login form for good; a reset request answers the same whether the account
exists or not. Errors show next to their fields, never as dialogs. Screenshots go to
test-artifacts/screenshots/settings-*.png."""

from __future__ import annotations

import re
import uuid

import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from realtime.tests.browser import BROWSER_TESTS, PASSWORD, Person

pytestmark = BROWSER_TESTS

NEW_PASSWORD = "battery-staple-42"
# How long a page may take to notice that its session ended: the server closes its sockets
# within 2 seconds (docs/api.md, "Logout"); the page then tries one refresh and gives up.
LOGGED_OUT_WITHIN = 10_000


def open_settings(person: Person):
    """Open the panel from the header with the keyboard; answer the dialog."""
    person.page.focus("#open-settings")
    person.page.keyboard.press("Enter")
    dialog = person.page.get_by_role("dialog", name="Settings")
    expect(dialog).to_be_visible()
    return dialog


def expect_login_form(person: Person, says: str | re.Pattern) -> None:
    """`person`'s page shows the login form saying why, and its sockets are closed."""
    expect(person.page.locator("#login-form")).to_be_visible(timeout=LOGGED_OUT_WITHIN)
    expect(person.page.locator("#app")).to_be_hidden()
    expect(person.page.locator("#auth-error")).to_have_text(says)
    assert person.websockets, "the page never connected"
    assert all(ws.is_closed() for ws in person.websockets)


def assert_clean(*people: Person) -> None:
    for person in people:
        assert person.errors == [], person.errors
        assert person.dialogs == [], person.dialogs


def test_a_new_name_reaches_another_persons_page(browser, server):
    sol, tam = Person(browser, server, "sol"), Person(browser, server, "tam")
    sol.sign_up()
    tam.sign_up()
    sol.reload()
    sol.contact(tam).wait_for()

    dialog = open_settings(tam)
    profile = dialog.locator("#profile-form")
    expect(dialog.get_by_label("Full name")).to_have_value(tam.full_name)
    expect(dialog.get_by_label("Username")).to_have_value(tam.username)

    # Refusals show next to their field, in words: a username someone else has, no name.
    dialog.get_by_label("Username").fill(sol.username)
    dialog.get_by_label("Full name").fill("")
    profile.get_by_role("button", name="Save profile").click()
    expect(dialog.locator("#profile-fullName-error")).to_have_text("Type your name.")
    dialog.get_by_label("Full name").fill("Tamsin Renamed")
    profile.get_by_role("button", name="Save profile").click()
    expect(dialog.locator("#profile-username-error")).not_to_be_empty()
    expect(dialog.get_by_label("Username")).to_have_attribute("aria-invalid", "true")
    tam.shot("settings-profile-refused")

    dialog.get_by_label("Username").fill(tam.username)
    dialog.get_by_label("Email", exact=True).fill("not an address")
    profile.get_by_role("button", name="Save profile").click()
    # Changing the email takes the password (it is where reset links go).
    expect(dialog.locator("#profile-currentPassword-error")).not_to_be_empty()
    dialog.get_by_label("Password to change the email").fill(PASSWORD)
    profile.get_by_role("button", name="Save profile").click()
    expect(dialog.locator("#profile-email-error")).not_to_be_empty()
    expect(dialog.locator("#profile-username-error")).to_be_empty()
    dialog.get_by_label("Email", exact=True).fill(f"{tam.username}@example.org")
    dialog.get_by_label("Gender").select_option("other")
    profile.get_by_role("button", name="Save profile").click()
    expect(profile.locator(".done")).to_have_text("Saved.")
    expect(dialog.locator("#profile-username-error")).to_be_empty()
    expect(tam.page.locator("#me-name")).to_have_text("Tamsin Renamed")

    # Escape closes the panel and gives the focus back to the button that opened it.
    tam.page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(tam.page.locator("#open-settings")).to_be_focused()

    # Ann's page shows the new name (live, or after a reload).
    renamed = sol.page.locator(".contact[data-peer]", has_text="Tamsin Renamed")
    try:
        renamed.wait_for(timeout=3000)
    except PlaywrightTimeout:  # no live event for profile changes: a reload shows it
        sol.reload()
    expect(renamed).to_be_visible()
    # And it is kept: Ben's own page after a reload, and the form when opened again.
    tam.reload()
    expect(tam.page.locator("#me-name")).to_have_text("Tamsin Renamed")
    dialog = open_settings(tam)
    expect(dialog.get_by_label("Gender")).to_have_value("other")
    expect(dialog.get_by_label("Email", exact=True)).to_have_value(f"{tam.username}@example.org")
    assert_clean(sol, tam)


def test_a_password_change_logs_out_the_other_browser(browser, server):
    una = Person(browser, server, "una")
    una.sign_up()
    phone = una.on_another_device(browser)
    expect(phone.page.locator("#banner")).to_be_hidden()

    dialog = open_settings(una)
    form = dialog.locator("#password-form")
    form.get_by_label("Current password").fill("not-my-password-1")
    form.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    form.get_by_label("Confirm new password").fill(NEW_PASSWORD + "x")
    form.get_by_role("button", name="Change password").click()
    expect(dialog.locator("#password-confirmPassword-error")).to_have_text(
        "The two new passwords don't match."
    )
    form.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    form.get_by_role("button", name="Change password").click()
    expect(dialog.locator("#password-currentPassword-error")).not_to_be_empty()
    expect(phone.page.locator("#app")).to_be_visible()  # a refused change ends nothing

    form.get_by_label("Current password").fill(PASSWORD)
    form.get_by_role("button", name="Change password").click()
    expect(form.locator(".done")).to_contain_text("Password changed")
    una.shot("settings-password-changed")

    # The other browser's socket is closed and its page shows the login form.
    expect_login_form(phone, re.compile("session has ended"))
    # This browser goes on: a reload keeps it logged in.
    una.reload()
    # The old password no longer logs in; the new one does.
    phone.page.locator("#login-form [name=username]").fill(una.username)
    phone.page.locator("#login-form [name=password]").fill(PASSWORD)
    phone.page.locator("#login-form button[type=submit]").click()
    expect(phone.page.locator("#auth-error")).to_have_text(re.compile("Invalid"))
    phone.log_in(NEW_PASSWORD)
    expect(phone.page.locator("#me-name")).to_have_text(una.full_name)
    assert_clean(una, phone)


def test_ending_the_other_session_logs_that_browser_out(browser, server):
    yara = Person(browser, server, "yara")
    yara.sign_up()
    laptop = yara.on_another_device(browser)

    dialog = open_settings(yara)
    rows = dialog.locator("#session-list .session")
    expect(rows).to_have_count(2)
    mine = rows.filter(has_text="This device")
    expect(mine).to_have_count(1)
    expect(mine.get_by_role("button")).to_have_count(0)  # this one ends with "Log out"
    other = rows.filter(has_not_text="This device")
    expect(other).to_contain_text("Chrom")  # the device, from its User-Agent
    other.scroll_into_view_if_needed()
    yara.shot("settings-sessions")

    other.get_by_role("button", name=re.compile("^Log out")).click()
    expect(rows).to_have_count(1)
    expect_login_form(laptop, re.compile("session has ended"))
    # Opened again, the list has this browser alone; it is still logged in.
    yara.page.keyboard.press("Escape")
    dialog = open_settings(yara)
    expect(dialog.locator("#session-list .session")).to_have_count(1)
    assert_clean(yara, laptop)


def test_deleting_the_account_is_for_good(browser, server):
    wim = Person(browser, server, "wim")
    wim.sign_up()

    dialog = open_settings(wim)
    form = dialog.locator("#delete-form")
    expect(form).to_contain_text("can't be undone")
    export = form.get_by_role("link", name="Download your data")
    expect(export).to_have_attribute("href", "/api/auth/me/export")
    with wim.page.expect_download() as download:
        export.click()
    assert wim.username in download.value.path().read_text()

    form.get_by_role("button", name="Delete my account").click()
    expect(dialog.locator("#delete-password-error")).to_have_text("Type your password to confirm.")
    form.get_by_label("Your password").fill("not-my-password-1")
    form.get_by_role("button", name="Delete my account").click()
    expect(dialog.locator("#delete-password-error")).not_to_be_empty()
    expect(wim.page.locator("#app")).to_be_visible()
    wim.shot("settings-delete-refused")

    form.get_by_label("Your password").fill(PASSWORD)
    form.get_by_role("button", name="Delete my account").click()
    expect_login_form(wim, "Your account was deleted.")
    wim.page.reload()
    expect(wim.page.locator("#login-form")).to_be_visible()  # no session left behind

    wim.page.locator("#login-form [name=username]").fill(wim.username)
    wim.page.locator("#login-form [name=password]").fill(PASSWORD)
    wim.page.locator("#login-form button[type=submit]").click()
    expect(wim.page.locator("#auth-error")).to_have_text(re.compile("Invalid"))
    expect(wim.page.locator("#app")).to_be_hidden()
    assert_clean(wim)


def test_forgot_password_answers_the_same_whoever_asks(browser, server):
    fern = f"fern{uuid.uuid4().hex[:6]}"
    signup = requests.post(
        server.url + "/api/auth/signup",
        json={
            "fullName": "Fern Example",
            "username": fern,
            "email": f"{fern}@example.org",
            "password": PASSWORD,
            "confirmPassword": PASSWORD,
        },
        timeout=10,
    )
    assert signup.status_code == 201, signup.text
    nobody = Person(browser, server, "nobody")
    page = nobody.page
    page.goto(server.url + "/")

    page.get_by_role("button", name="Forgot password?").click()
    form = page.locator("#forgot-form")
    expect(form).to_be_visible()
    expect(page.locator("#login-form")).to_be_hidden()
    form.get_by_role("button", name="Send the link").click()
    expect(form.locator("#forgot-login-error")).to_have_text("Type your username or email.")

    answers = []
    for login in (f"{fern}@example.org", fern, "nobody-" + fern):
        form.get_by_label("Username or email").fill(login)
        form.get_by_role("button", name="Send the link").click()
        done = form.locator("#forgot-done")
        expect(done).to_be_visible()
        expect(done).not_to_be_empty()
        answers.append(done.inner_text())
        expect(form.locator("#forgot-login-error")).to_be_empty()
    assert len(set(answers)) == 1, answers
    nobody.shot("login-forgot-password")

    form.get_by_role("button", name="Back to log in").click()
    expect(page.locator("#login-form")).to_be_visible()
    expect(form).to_be_hidden()
