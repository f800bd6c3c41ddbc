"""Attachments end to end in one process: uploads checked and stored in the real GridFS of the
test database, sends that claim them, downloads with their permissions and headers, hiding,
deleting, the purge of unused uploads and the admin."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from PIL import Image

from accounts.tests.factories import assert_error, user_factory
from messaging import services
from messaging.models import Attachment, Conversation, Message
from messaging.tests.factories import message_factory
from messaging.tests.test_admin import staff

pytestmark = pytest.mark.django_db

UPLOAD_URL = "/api/attachments"
GPS_IFD = 0x8825


@pytest.fixture(autouse=True)
def _empty_gridfs():
    """Django's flush after a test empties the models' collections, not GridFS's."""
    yield
    for suffix in ("files", "chunks"):
        connection.database[f"attachments.{suffix}"].delete_many({})


def gridfs_counts() -> tuple[int, int]:
    database = connection.database
    return (
        database["attachments.files"].count_documents({}),
        database["attachments.chunks"].count_documents({}),
    )


def image_bytes(image_format: str = "PNG", size=(640, 480), **save) -> bytes:
    image = Image.new("RGB", size, (30, 120, 200))
    out = io.BytesIO()
    image.save(out, image_format, **save)
    return out.getvalue()


def jpeg_with_gps(size=(1200, 900)) -> bytes:
    """A photo as a phone writes it: camera, time and position in its EXIF."""
    exif = Image.Exif()
    exif[0x010F] = "SpyPhone"  # Make
    exif[0x0132] = "2026:11:27 10:00:00"  # DateTime
    exif[GPS_IFD] = {1: "N", 2: (51.0, 30.0, 26.0), 3: "W", 4: (0.0, 7.0, 39.0)}
    out = io.BytesIO()
    Image.new("RGB", size, (10, 200, 10)).save(out, "JPEG", exif=exif)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD)  # the test's own premise
    return data


def pdf_bytes(padding: int = 0) -> bytes:
    return b"%PDF-1.4\n1 0 obj <<>> endobj\n" + b"%" + b"x" * padding + b"\ntrailer <<>>\n%%EOF\n"


def upload(api, name: str, data: bytes, content_type: str = "application/octet-stream"):
    file = SimpleUploadedFile(name, data, content_type=content_type)
    return api.post(UPLOAD_URL, {"file": file}, format="multipart")


def uploaded(api, user, name="photo.png", data=None) -> dict:
    response = upload(api.login_as(user), name, data if data is not None else image_bytes())
    assert response.status_code == 201, response.content
    return response.json()


def download(api, attachment: dict, thumbnail: bool = False, **headers):
    url = attachment["thumbnailUrl"] if thumbnail else attachment["url"]
    return api.get(url, **headers)


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


# --- uploads --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image_format", "name", "content_type"),
    [
        ("JPEG", "photo.JPG", "image/jpeg"),
        ("PNG", "drawing.png", "image/png"),
        ("GIF", "anim.gif", "image/gif"),
        ("WEBP", "sticker.webp", "image/webp"),
    ],
)
def test_upload_image(api, alice, image_format, name, content_type):
    payload = uploaded(api, alice, name, image_bytes(image_format, size=(640, 480)))

    assert payload["contentType"] == content_type
    assert (payload["name"], payload["width"], payload["height"]) == (name, 640, 480)
    assert payload["url"] == f"/api/attachments/{payload['_id']}"
    assert payload["thumbnailUrl"] == payload["url"] + "/thumbnail"
    stored = Attachment.objects.get(pk=payload["_id"])
    assert (stored.uploader_id, stored.message_id) == (alice.pk, None)
    assert stored.size == payload["size"] == len(body_of(download(api, payload)))
    with Image.open(io.BytesIO(body_of(download(api, payload)))) as image:
        assert (image.format, image.size) == (image_format, (640, 480))
    with Image.open(io.BytesIO(body_of(download(api, payload, thumbnail=True)))) as thumbnail:
        assert max(thumbnail.size) == 320
        assert thumbnail.size == (320, 240)


def test_exif_and_gps_are_stripped(api, alice):
    payload = uploaded(api, alice, "holiday.jpg", jpeg_with_gps())

    for thumbnail in (False, True):
        data = body_of(download(api, payload, thumbnail=thumbnail))
        assert b"Exif" not in data and b"SpyPhone" not in data
        with Image.open(io.BytesIO(data)) as image:
            assert not image.getexif()
            assert not image.getexif().get_ifd(GPS_IFD)
            assert not {"exif", "xmp", "icc_profile", "comment"} & set(image.info)
    # What GridFS holds, byte for byte, is what was downloaded.
    stored = Attachment.objects.get(pk=payload["_id"])
    with stored.file.storage.open(stored.file.name) as file:
        assert b"Exif" not in file.read()


def test_exif_orientation_is_applied_before_stripping(api, alice):
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to show
    out = io.BytesIO()
    Image.new("RGB", (400, 200), "white").save(out, "JPEG", exif=exif)
    payload = uploaded(api, alice, "turned.jpg", out.getvalue())

    assert (payload["width"], payload["height"]) == (200, 400)


def test_animated_gif_keeps_its_first_frame(api, alice):
    frames = [Image.new("P", (50, 40), color) for color in (1, 2, 3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    payload = uploaded(api, alice, "anim.gif", out.getvalue())

    with Image.open(io.BytesIO(body_of(download(api, payload)))) as image:
        assert getattr(image, "n_frames", 1) == 1


def test_a_phone_photo_with_a_second_picture_is_a_jpeg(api, alice):
    """Android's Ultra HDR and portrait photos carry a gain or depth map: Pillow reads them as
    MPO. They are JPEGs: the first picture is kept, its metadata dropped."""
    out = io.BytesIO()
    first, second = Image.new("RGB", (300, 200), "red"), Image.new("RGB", (300, 200), "blue")
    first.save(out, "MPO", save_all=True, append_images=[second], exif=Image.Exif())
    payload = uploaded(api, alice, "PXL_0001.jpg", out.getvalue())

    assert (payload["contentType"], payload["width"], payload["height"]) == ("image/jpeg", 300, 200)
    with Image.open(io.BytesIO(body_of(download(api, payload)))) as image:
        assert (image.format, getattr(image, "n_frames", 1)) == ("JPEG", 1)


def test_upload_pdf(api, alice):
    payload = uploaded(api, alice, "report.pdf", pdf_bytes())

    assert payload == {
        "_id": payload["_id"],
        "name": "report.pdf",
        "size": len(pdf_bytes()),
        "contentType": "application/pdf",
        "url": f"/api/attachments/{payload['_id']}",
    }
    assert body_of(download(api, payload)) == pdf_bytes()


def test_text_and_office_files(api, alice):
    assert uploaded(api, alice, "notes.txt", "héllo\nwörld\n".encode())["contentType"] == (
        "text/plain"
    )
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    assert uploaded(api, alice, "plan.docx", docx.getvalue())["contentType"] == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )


def test_a_name_without_extension_gets_the_types_own(api, alice):
    assert uploaded(api, alice, "scan", pdf_bytes())["name"] == "scan.pdf"


def test_the_name_loses_paths_and_control_characters(api, alice):
    name = "../../etc/\u202egnp.exe\x07.pdf"
    assert uploaded(api, alice, name, pdf_bytes())["name"] == "gnp.exe.pdf"
    long = "a" * 400 + ".pdf"
    assert uploaded(api, alice, long, pdf_bytes())["name"] == "a" * 251 + ".pdf"


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200),
        ("setup.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200),
        ("cat.png", b"<html><script>alert(1)</script></html>"),
        ("cat.html", b"<html><script>alert(1)</script></html>"),
        (
            "logo.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        ),
        ("photo.pdf", image_bytes("PNG")),  # a real image under another type's name
        ("report.png", pdf_bytes()),
        ("broken.png", image_bytes("PNG")[:60]),
        ("picture.bmp", image_bytes("BMP")),
        ("empty.txt", b""),
        ("binary.txt", b"text\x00with a NUL"),
    ],
)
def test_refused_types(api, alice, name, data):
    assert_error(upload(api.login_as(alice), name, data), 400, "attachment_type_not_allowed")
    assert not Attachment.objects.exists()
    assert gridfs_counts() == (0, 0)


def test_the_clients_content_type_is_ignored(api, alice):
    response = upload(api.login_as(alice), "page.txt", b"<b>hi</b>", content_type="text/html")
    assert response.json()["contentType"] == "text/plain"


def test_too_large(api, alice, settings):
    settings.CHAT = {**settings.CHAT, "ATTACHMENT_MAX_BYTES": 1000}
    response = upload(api.login_as(alice), "big.pdf", pdf_bytes(padding=1000))
    assert_error(response, 413, "attachment_too_large")
    assert gridfs_counts() == (0, 0)


def test_a_body_over_the_limit_is_refused_before_it_is_read(api, alice):
    response = api.login_as(alice).generic(
        "POST",
        UPLOAD_URL,
        b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(11 * 1024 * 1024),
    )
    assert_error(response, 413, "attachment_too_large")


def test_ten_megabytes_are_accepted_here_while_json_bodies_keep_their_limit(api, alice):
    data = pdf_bytes(padding=10 * 1024 * 1024 - 100)
    assert uploaded(api, alice, "big.pdf", data)["size"] == len(data)
    response = api.post(
        f"/api/messages/send/{user_factory().pk}", {"message": "x" * 300_000}, format="json"
    )
    assert_error(response, 413, "request_too_large")


def test_decompression_bomb(api, alice):
    bomb = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(bomb, "PNG")  # 100 megapixels in a few kilobytes
    assert len(bomb.getvalue()) < 100_000
    response = upload(api.login_as(alice), "bomb.png", bomb.getvalue())
    assert_error(response, 400, "attachment_image_too_large")
    assert gridfs_counts() == (0, 0)


def test_one_file_per_upload(api, alice):
    files = [SimpleUploadedFile(f"{n}.pdf", pdf_bytes()) for n in "ab"]
    response = api.login_as(alice).post(UPLOAD_URL, {"file": files}, format="multipart")
    assert_error(response, 400, "validation_error")
    assert_error(api.post(UPLOAD_URL, {}, format="multipart"), 400, "validation_error")


def test_upload_rate(api, alice, settings):
    settings.CHAT = {**settings.CHAT, "UPLOAD_RATE": "2/minute"}
    uploaded(api, alice, "a.pdf", pdf_bytes())
    uploaded(api, alice, "b.pdf", pdf_bytes())
    assert_error(upload(api, "c.pdf", pdf_bytes()), 429, "rate_limited")


class BrokenUpload(SimpleUploadedFile):
    """An upload whose bytes stop coming part-way through storing them."""

    def read(self, size=-1):
        if self.file.tell() > 300_000:
            raise OSError("the connection was reset")
        return super().read(size)


def test_a_failed_upload_stores_nothing(alice):
    upload = BrokenUpload("big.pdf", pdf_bytes(padding=1_000_000))
    with pytest.raises(OSError):
        services.attachment_upload(uploader=alice, upload=upload)
    assert not Attachment.objects.exists()
    assert gridfs_counts() == (0, 0)


def test_a_failed_row_write_deletes_the_files(alice, monkeypatch):
    def fail(self, *args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(Attachment, "save", fail)
    with pytest.raises(RuntimeError):
        services.attachment_upload(
            uploader=alice, upload=SimpleUploadedFile("a.png", image_bytes())
        )
    assert gridfs_counts() == (0, 0)


def test_upload_needs_authentication(api):
    assert_error(upload(api, "a.pdf", pdf_bytes()), 401, "not_authenticated")


# --- sending ----------------------------------------------------------------------------------


def send(api, to, **body):
    return api.post(f"/api/messages/send/{to.pk}", body, format="json")


def test_send_with_attachments(api, alice, bob):
    photo = uploaded(api, alice, "photo.png")
    report = uploaded(api, alice, "report.pdf", pdf_bytes())

    response = send(api, bob, message="look", attachments=[photo["_id"], report["_id"]])
    assert response.status_code == 201, response.content
    payload = response.json()
    assert payload["attachments"] == [photo, report]
    message = Message.objects.get()
    assert [str(pk) for pk in message.attachment_ids] == [photo["_id"], report["_id"]]
    assert set(Attachment.objects.values_list("message_id", flat=True)) == {message.pk}
    # Bob reads them in the history, and downloads them.
    history = api.login_as(bob).get(f"/api/messages/{alice.pk}").json()
    assert history[0]["attachments"] == [photo, report]
    assert download(api, photo).status_code == 200


def test_attachments_without_text(api, alice, bob):
    photo = uploaded(api, alice)
    payload = send(api, bob, attachments=[photo["_id"]]).json()
    assert (payload["message"], payload["attachments"]) == ("", [photo])
    # Text that shows nothing beside attachments is no text.
    other = uploaded(api, alice)
    assert send(api, bob, message=" \u200b ", attachments=[other["_id"]]).json()["message"] == ""


def test_neither_text_nor_attachments(api, alice, bob):
    api.login_as(alice)
    assert_error(send(api, bob, message=""), 400, "message_empty")
    assert_error(send(api, bob, message="", attachments=[]), 400, "message_empty")
    assert_error(send(api, bob), 400, "validation_error")


def test_claiming_someone_elses_upload(api, alice, bob):
    bobs = uploaded(api, bob)
    api.login_as(alice)
    assert_error(send(api, bob, message="mine?", attachments=[bobs["_id"]]), 404, (
        "attachment_not_found"
    ))  # fmt: skip
    assert not Message.objects.exists()
    assert Attachment.objects.get().message_id is None


def test_an_attachment_is_used_once(api, alice, bob, carol):
    photo = uploaded(api, alice)
    assert send(api, bob, attachments=[photo["_id"]]).status_code == 201
    assert_error(send(api, carol, attachments=[photo["_id"]]), 404, "attachment_not_found")
    assert Message.objects.count() == 1


def test_a_retry_with_the_same_client_msg_id_answers_the_first_message(api, alice, bob):
    photo = uploaded(api, alice)
    first = send(api, bob, attachments=[photo["_id"]], clientMsgId="k1").json()
    again = send(api, bob, attachments=[photo["_id"]], clientMsgId="k1")
    assert again.json()["_id"] == first["_id"]
    assert again.json()["attachments"] == [photo]


def test_a_failed_send_leaves_its_uploads_unused(api, alice, bob):
    photo = uploaded(api, alice)
    api.login_as(alice)
    response = send(api, bob, attachments=[photo["_id"]], replyTo="0" * 24)
    assert_error(response, 400, "reply_not_found")
    assert Attachment.objects.get().message_id is None


@pytest.mark.parametrize(
    ("attachments", "status", "code"),
    [
        (["x" * 24], 404, "attachment_not_found"),
        ("6b0915b0fb52ecdcd06a1711", 404, "attachment_not_found"),
        ([{"$ne": None}], 404, "attachment_not_found"),
        (["6b0915b0fb52ecdcd06a1711"] * 11, 400, "too_many_attachments"),
    ],
)
def test_bad_attachment_lists(api, alice, bob, attachments, status, code):
    response = send(api.login_as(alice), bob, message="hi", attachments=attachments)
    assert_error(response, status, code)


def test_ten_attachments(api, alice, bob):
    ids = [uploaded(api, alice, f"{n}.pdf", pdf_bytes())["_id"] for n in range(10)]
    payload = send(api, bob, attachments=ids).json()
    assert [a["_id"] for a in payload["attachments"]] == ids


def test_a_page_costs_one_query_for_its_attachments_and_none_without(
    api, alice, bob, django_assert_num_queries
):
    from messaging import selectors

    for _ in range(3):
        message_factory(sender=alice, receiver=bob)
    conversation = Conversation.objects.get()
    with django_assert_num_queries(1):
        selectors.message_page(conversation=conversation, limit=50)
    photo = uploaded(api, alice)
    send(api, bob, attachments=[photo["_id"]])
    conversation.refresh_from_db()
    with django_assert_num_queries(2):
        messages, _ = selectors.message_page(conversation=conversation, limit=50)
    from messaging.serializers import MessageSerializer

    with django_assert_num_queries(0):
        assert MessageSerializer(messages[-1]).data["attachments"] == [photo]


# --- downloads ------------------------------------------------------------------------------


def test_who_may_download(api, alice, bob, carol):
    photo = uploaded(api, alice)
    # Before it is used: its uploader alone.
    assert download(api.login_as(alice), photo).status_code == 200
    assert_error(download(api.login_as(bob), photo), 404, "attachment_not_found")
    send(api.login_as(alice), bob, attachments=[photo["_id"]])
    # Then the participants, and nobody else.
    for user, allowed in ((alice, True), (bob, True), (carol, False)):
        response = download(api.login_as(user), photo)
        assert response.status_code == (200 if allowed else 404), user
    assert_error(download(api.login_as(carol), photo, thumbnail=True), 404, "attachment_not_found")
    assert_error(api.get("/api/attachments/" + "0" * 24), 404, "attachment_not_found")
    assert_error(api.get("/api/attachments/nope"), 404, "attachment_not_found")
    api.credentials()
    assert_error(download(api, photo), 401, "not_authenticated")


def test_a_session_cookie_opens_downloads(client, alice, api):
    photo = uploaded(api, alice)
    client.force_login(alice)
    assert client.get(photo["url"]).status_code == 200


def test_download_headers(api, alice):
    photo = uploaded(api, alice, "ph\u00f6to.png")
    report = uploaded(api, alice, "report.pdf", pdf_bytes())

    image = download(api, photo)
    assert image["Content-Type"] == "image/png"
    assert image["Content-Disposition"].startswith("inline;")
    assert "filename*=utf-8''ph%C3%B6to.png" in image["Content-Disposition"]
    assert image["Content-Length"] == str(photo["size"])
    file = download(api, report)
    assert file["Content-Type"] == "application/pdf"
    assert file["Content-Disposition"] == 'attachment; filename="report.pdf"'
    for response in (image, file):
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'none'" in response["Content-Security-Policy"]
        assert "sandbox" in response["Content-Security-Policy"]
        assert response["Cache-Control"] == "private, no-cache"
    assert download(api, photo, thumbnail=True)["Content-Type"] == "image/jpeg"
    assert_error(api.get(report["url"] + "/thumbnail"), 404, "attachment_not_found")
    # Whatever `Accept` says, a file is a file.
    assert download(api, report, HTTP_ACCEPT="image/png").status_code == 200


def test_etag_and_not_modified(api, alice):
    photo = uploaded(api, alice)
    first = download(api, photo)
    etag = first["ETag"]
    assert etag == f'"{Attachment.objects.get().sha256}"'
    again = download(api, photo, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again["ETag"] == etag
    assert again.content == b""
    assert download(api, photo, HTTP_IF_NONE_MATCH='"other"').status_code == 200
    thumbnail = download(api, photo, thumbnail=True)
    assert thumbnail["ETag"] != etag


def test_hidden_message_withholds_its_attachments(api, alice, bob):
    photo = uploaded(api, alice)
    sent = send(api, bob, attachments=[photo["_id"]]).json()
    services.message_hide(message=Message.objects.get(pk=sent["_id"]), by=None)

    history = api.login_as(bob).get(f"/api/messages/{alice.pk}").json()
    assert history[0]["attachments"] == []
    for user in (alice, bob):
        assert_error(download(api.login_as(user), photo), 404, "attachment_not_found")
    services.message_unhide(message=Message.objects.get(pk=sent["_id"]), by=None)
    assert download(api.login_as(bob), photo).status_code == 200


def test_deleted_message_deletes_its_files(api, alice, bob):
    photo = uploaded(api, alice)
    other = uploaded(api, alice, "keep.pdf", pdf_bytes())
    sent = send(api, bob, message="oops", attachments=[photo["_id"]]).json()
    assert gridfs_counts()[0] == 3  # the photo, its thumbnail, the PDF

    response = api.delete(f"/api/messages/{sent['_id']}")
    assert response.json()["attachments"] == []
    assert Message.objects.get().attachment_ids == []
    assert list(Attachment.objects.values_list("pk", flat=True)) == [
        Attachment.objects.get(pk=other["_id"]).pk
    ]
    assert gridfs_counts()[0] == 1
    assert_error(download(api, photo), 404, "attachment_not_found")


def test_purge_of_unused_uploads(api, alice, bob):
    old = uploaded(api, alice)
    used = uploaded(api, alice)
    send(api, bob, attachments=[used["_id"]])
    Attachment.objects.update(created_at=Attachment.objects.get(pk=old["_id"]).created_at
                              - timedelta(days=2))  # fmt: skip
    fresh = uploaded(api, alice, "fresh.pdf", pdf_bytes())

    assert services.attachments_purge_unused() == 1
    assert set(map(str, Attachment.objects.values_list("pk", flat=True))) == {
        used["_id"],
        fresh["_id"],
    }
    assert gridfs_counts()[0] == 3  # the used photo and its thumbnail, the fresh PDF
    Attachment.objects.update(created_at=Attachment.objects.get(pk=fresh["_id"]).created_at
                              - timedelta(days=2))  # fmt: skip
    call_command("purge_attachments", verbosity=0)
    assert [str(pk) for pk in Attachment.objects.values_list("pk", flat=True)] == [used["_id"]]
    assert gridfs_counts()[0] == 2
    assert download(api.login_as(bob), used).status_code == 200


# --- storage ----------------------------------------------------------------------------------


def test_the_default_storage_is_gridfs_in_the_same_database(api, alice):
    from django.core.files.storage import storages

    from messaging.storage import GridFSStorage

    storage = storages["attachments"]
    assert isinstance(storage, GridFSStorage)
    payload = uploaded(api, alice, "r.pdf", pdf_bytes())
    name = Attachment.objects.get(pk=payload["_id"]).file.name
    assert storage.exists(name) and storage.size(name) == payload["size"]
    assert storage.get_modified_time(name).tzinfo is not None
    entry = connection.database["attachments.files"].find_one({"filename": name})
    assert entry["length"] == payload["size"]
    storage.delete(name)
    assert not storage.exists(name)
    assert gridfs_counts() == (0, 0)


# --- admin ------------------------------------------------------------------------------------


@pytest.fixture
def moderator(db):
    return staff("view_attachment", "delete_attachment", "view_message", superuser=False)


def test_admin_shows_thumbnails_and_deletes_an_attachment(api, alice, bob, client, moderator):
    photo = uploaded(api, alice)
    report = uploaded(api, alice, "report.pdf", pdf_bytes())
    sent = send(api, bob, message="both", attachments=[photo["_id"], report["_id"]]).json()
    client.force_login(moderator)
    thumbnail_url = reverse("admin:messaging_attachment_thumbnail", args=[photo["_id"]])

    listing = client.get(reverse("admin:messaging_attachment_changelist")).content.decode()
    assert thumbnail_url in listing and "report.pdf" in listing
    message_page = client.get(reverse("admin:messaging_message_change", args=[sent["_id"]]))
    assert thumbnail_url in message_page.content.decode()
    thumbnail = client.get(thumbnail_url)
    assert (thumbnail.status_code, thumbnail["Content-Type"]) == (200, "image/jpeg")
    # A moderator sees the attachments of a hidden message too.
    services.message_hide(message=Message.objects.get(pk=sent["_id"]), by=moderator)
    assert client.get(thumbnail_url).status_code == 200

    delete_url = reverse("admin:messaging_attachment_delete", args=[photo["_id"]])
    assert client.post(delete_url, {"post": "yes"}).status_code == 302
    assert list(Attachment.objects.values_list("name", flat=True)) == ["report.pdf"]
    message = Message.objects.get()
    assert message.attachment_ids == [Attachment.objects.get().pk]
    assert gridfs_counts()[0] == 1
    assert client.get(thumbnail_url).status_code == 404


def test_admin_file_views_need_the_permission(api, alice, client):
    photo = uploaded(api, alice)
    client.force_login(staff("view_message"))
    url = reverse("admin:messaging_attachment_thumbnail", args=[photo["_id"]])
    assert client.get(url).status_code == 403


def test_image_thumbnail_helper_keeps_aspect(api, alice):
    payload = uploaded(api, alice, "tall.png", image_bytes(size=(100, 1000)))
    with Image.open(io.BytesIO(body_of(download(api, payload, thumbnail=True)))) as thumbnail:
        assert thumbnail.size == (32, 320)


# --- the schema -------------------------------------------------------------------------------


def test_the_schema_describes_uploads_downloads_and_sends_with_attachments(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths, components = schema["paths"], schema["components"]["schemas"]

    upload = paths["/api/attachments"]["post"]
    body = upload["requestBody"]["content"]
    assert list(body) == ["multipart/form-data"]
    form = components[body["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]]
    assert form["properties"]["file"]["format"] == "binary"
    assert form["required"] == ["file"]
    assert upload["responses"]["413"]["content"]["application/json"]["schema"]["properties"][
        "code"
    ]["enum"] == ["attachment_too_large", "request_too_large"]
    assert "attachment_type_not_allowed" in str(upload["responses"]["400"])
    download = paths["/api/attachments/{id}"]["get"]
    assert set(download["responses"]) >= {"200", "304", "404"}
    assert list(download["responses"]["200"]["content"]) == ["*/*"]
    assert download["responses"]["200"]["headers"]["Content-Disposition"]["required"] is True
    assert paths["/api/messages/send/{user_id}"]["post"]["requestBody"]["required"] is True
    send = components["SendMessageRequest"]
    assert "required" not in send
    assert [branch["required"] for branch in send["anyOf"]] == [["message"], ["attachments"]]
    assert send["properties"]["attachments"]["maxItems"] == 10
    assert "attachments" in components["Message"]["required"]
