"""Attachments on the demo chat page, in headless Chromium against a real server process: one
person attaches an image and a PDF (with the attach button, and by dropping a file on the
conversation), sees them upload, and sends them; the other person's page shows them live, the
image as a thumbnail that opens the viewer and the PDF as a chip with its name and size.
Screenshots go to test-artifacts/screenshots/attachments-*.png."""

from __future__ import annotations

import base64
import io
import re

from PIL import Image
from playwright.sync_api import expect

from realtime.tests.browser import BROWSER_TESTS, Person

pytestmark = BROWSER_TESTS

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%" + b"x" * 2000 + b"\ntrailer <<>>\n%%EOF\n"


def png(size=(800, 600), color=(220, 60, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def chatting(browser, server, first: str, second: str) -> tuple[Person, Person]:
    one, two = Person(browser, server, first), Person(browser, server, second)
    one.sign_up()
    two.sign_up()
    one.reload()
    one.open_chat(two)
    return one, two


def loaded_image(locator) -> None:
    """The <img> shows a picture: the attachment's own URL (the browser sends the session
    cookie), decoded."""
    expect(locator).to_have_attribute("src", re.compile(r"^/api/attachments/[0-9a-f]{24}"))
    locator.page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=locator.element_handle()
    )


def test_an_image_and_a_pdf_arrive_live(browser, server, tmp_path):
    uma, vic = chatting(browser, server, "uma", "vic")
    photo, report = tmp_path / "beach.png", tmp_path / "report.pdf"
    photo.write_bytes(png())
    report.write_bytes(PDF)

    uma.page.set_input_files("#attach-input", [str(photo), str(report)])
    pending = uma.page.locator("#pending-files .pending-file")
    expect(pending).to_have_count(2)
    expect(uma.page.locator("#pending-files .pending-file.ready")).to_have_count(2)
    expect(pending.filter(has_text="report.pdf")).to_contain_text("2 KB")
    uma.shot("attachments-composer")
    uma.say("holiday pictures")
    expect(uma.page.locator("#pending-files")).to_be_hidden()

    # Vic's page shows them as they arrive: the image's thumbnail, the PDF as a chip.
    vic.reload()
    vic.open_chat(uma)
    bubble = vic.page.locator("#messages .message", has_text="holiday pictures")
    thumbnail = bubble.locator(".attachment-image img")
    loaded_image(thumbnail)
    expect(thumbnail).to_have_attribute("alt", "beach.png")
    chip = bubble.locator(".file-chip")
    expect(chip).to_contain_text("report.pdf")
    expect(chip).to_contain_text("2 KB")
    vic.shot("attachments-received")

    # A second message while Vic's page is open reaches it live: a file dropped on the page.
    encoded = base64.b64encode(png((300, 500), (40, 90, 200))).decode()
    uma.page.evaluate(
        """(encoded) => {
            const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
            const data = new DataTransfer();
            data.items.add(new File([bytes], "tall.png", { type: "image/png" }));
            const target = document.getElementById("conversation");
            const options = { dataTransfer: data, bubbles: true, cancelable: true };
            target.dispatchEvent(new DragEvent("dragover", options));
            target.dispatchEvent(new DragEvent("drop", options));
        }""",
        encoded,
    )
    expect(uma.page.locator("#pending-files .pending-file.ready")).to_have_count(1)
    uma.page.press("#composer-input", "Enter")  # no text: the image alone
    live = vic.page.locator("#messages .message .attachment-image img[alt='tall.png']")
    loaded_image(live)
    assert live.evaluate("(img) => img.naturalHeight > img.naturalWidth")
    expect(vic.page.locator(".contact[data-peer]", has_text=uma.full_name)).to_contain_text(
        "tall.png"
    )

    # The viewer shows the full image.
    live.click()
    viewer = vic.page.locator("#viewer")
    expect(viewer).to_be_visible()
    loaded_image(viewer.locator("#viewer-image"))
    assert viewer.locator("#viewer-image").evaluate("(img) => img.naturalWidth") == 300
    expect(viewer.locator("#viewer-name")).to_contain_text("tall.png")
    vic.shot("attachments-viewer")
    viewer.get_by_role("button", name="Close").click()
    expect(viewer).to_be_hidden()

    assert uma.errors == vic.errors == []
    assert uma.dialogs == vic.dialogs == []


def test_a_refused_file_says_why_and_is_not_sent(browser, server, tmp_path):
    wes, _ = chatting(browser, server, "wes", "xia")
    page = tmp_path / "page.html"
    page.write_bytes(b"<html><script>alert(1)</script></html>")

    wes.page.set_input_files("#attach-input", str(page))
    failed = wes.page.locator("#pending-files .pending-file.failed")
    expect(failed).to_contain_text("page.html is not a kind of file that can be sent.")
    failed.get_by_role("button", name="Remove page.html").click()
    expect(wes.page.locator("#pending-files")).to_be_hidden()
    assert wes.errors == [] and wes.dialogs == []
