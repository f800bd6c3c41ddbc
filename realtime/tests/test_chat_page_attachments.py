"""Attachments on the demo chat page, in headless Chromium against a real server process: one
person attaches an image and a PDF (with the attach button, and by dropping a file on the
conversation), sees them upload, and sends them; the other person's page shows them live, the
image as a thumbnail that opens the viewer and the PDF as a chip with its name and size.
Screenshots go to test-artifacts/screenshots/attachments-*.png."""

from __future__ import annotations

import base64
import io
import re
import shutil

import pytest
from PIL import Image
from playwright.sync_api import expect

from realtime.tests.browser import Person

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed"),
]

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%" + b"x" * 2000 + b"\ntrailer <<>>\n%%EOF\n"


@pytest.fixture(scope="module")
def server(chat_server_factory):
    return chat_server_factory("eventlet", REALTIME_PRESENCE_FANOUT="contacts")


def png(size=(800, 600), color=(220, 60, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def chatting(browser, server, first="ana", second="ben") -> tuple[Person, Person]:
    ana, ben = Person(browser, server, first), Person(browser, server, second)
    ana.sign_up()
    ben.sign_up()
    ana.reload()
    ana.open_chat(ben)
    return ana, ben


def loaded_image(locator) -> None:
    """The <img> shows a picture: a blob: URL (fetched with the token) that decoded."""
    expect(locator).to_have_attribute("src", re.compile(r"^blob:"))
    locator.page.wait_for_function(
        "(img) => img.complete && img.naturalWidth > 0", arg=locator.element_handle()
    )


def test_an_image_and_a_pdf_arrive_live(browser, server, tmp_path):
    ana, ben = chatting(browser, server)
    photo, report = tmp_path / "beach.png", tmp_path / "report.pdf"
    photo.write_bytes(png())
    report.write_bytes(PDF)

    ana.page.set_input_files("#attach-input", [str(photo), str(report)])
    pending = ana.page.locator("#pending-files .pending-file")
    expect(pending).to_have_count(2)
    expect(ana.page.locator("#pending-files .pending-file.ready")).to_have_count(2)
    expect(pending.filter(has_text="report.pdf")).to_contain_text("2 KB")
    ana.shot("attachments-composer")
    ana.say("holiday pictures")
    expect(ana.page.locator("#pending-files")).to_be_hidden()

    # Ben's page shows them as they arrive: the image's thumbnail, the PDF as a chip.
    ben.reload()
    ben.open_chat(ana)
    bubble = ben.page.locator("#messages .message", has_text="holiday pictures")
    thumbnail = bubble.locator(".attachment-image img")
    loaded_image(thumbnail)
    expect(thumbnail).to_have_attribute("alt", "beach.png")
    chip = bubble.locator(".file-chip")
    expect(chip).to_contain_text("report.pdf")
    expect(chip).to_contain_text("2 KB")
    ben.shot("attachments-received")

    # A second message while Ben's page is open reaches it live: a file dropped on the page.
    encoded = base64.b64encode(png((300, 500), (40, 90, 200))).decode()
    ana.page.evaluate(
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
    expect(ana.page.locator("#pending-files .pending-file.ready")).to_have_count(1)
    ana.page.press("#composer-input", "Enter")  # no text: the image alone
    live = ben.page.locator("#messages .message .attachment-image img[alt='tall.png']")
    loaded_image(live)
    assert live.evaluate("(img) => img.naturalHeight > img.naturalWidth")
    expect(ben.page.locator(".contact[data-peer]", has_text=ana.full_name)).to_contain_text(
        "tall.png"
    )

    # The viewer shows the full image.
    live.click()
    viewer = ben.page.locator("#viewer")
    expect(viewer).to_be_visible()
    loaded_image(viewer.locator("#viewer-image"))
    assert viewer.locator("#viewer-image").evaluate("(img) => img.naturalWidth") == 300
    expect(viewer.locator("#viewer-name")).to_contain_text("tall.png")
    ben.shot("attachments-viewer")
    viewer.get_by_role("button", name="Close").click()
    expect(viewer).to_be_hidden()

    assert ana.errors == ben.errors == []
    assert ana.dialogs == ben.dialogs == []


def test_a_refused_file_says_why_and_is_not_sent(browser, server, tmp_path):
    ana, _ = chatting(browser, server, "cleo", "dan")
    page = tmp_path / "page.html"
    page.write_bytes(b"<html><script>alert(1)</script></html>")

    ana.page.set_input_files("#attach-input", str(page))
    failed = ana.page.locator("#pending-files .pending-file.failed")
    expect(failed).to_contain_text("page.html is not a kind of file that can be sent.")
    failed.get_by_role("button", name="Remove page.html").click()
    expect(ana.page.locator("#pending-files")).to_be_hidden()
    assert ana.errors == [] and ana.dialogs == []
