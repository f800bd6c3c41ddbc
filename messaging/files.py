"""What an uploaded file is, read from its bytes, and images made safe to pass on.

- The type comes from the bytes (`filetype` for the magic numbers, Pillow for images, a UTF-8
  check for plain text), never from the name or the client's `Content-Type`. The name's
  extension must be one of that type's (`photo.png` holding HTML is refused), and a name
  without one gets the type's.
- Images (JPEG, PNG, GIF, WebP) are decoded and encoded again from their pixels alone: EXIF
  (GPS position, camera, time), XMP, IPTC, comments, text chunks and colour profiles are left
  behind. EXIF orientation is applied first, so the picture stands as it was shot. An
  animated GIF or WebP keeps its first frame only. Pixels are counted from the header before
  anything is decoded (decompression bombs: a small file that decodes to gigabytes).
- SVG is refused: it is a document that can run script, not an image.
"""

from __future__ import annotations

import codecs
import io
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

import filetype
from PIL import Image, ImageOps

from messaging import errors

NAME_MAX_LENGTH = 255
THUMBNAIL_SIZE = 320  # the longer side, in pixels

# Pillow's format -> the type served, its extensions (the first is the one a name without one
# gets) and how it is encoded again.
IMAGE_FORMATS = {
    "JPEG": ("image/jpeg", ("jpg", "jpeg", "jpe", "jfif"), {"quality": 90}),
    "PNG": ("image/png", ("png",), {}),
    "GIF": ("image/gif", ("gif",), {}),
    "WEBP": ("image/webp", ("webp",), {"quality": 90}),
}
IMAGE_TYPES = frozenset(content_type for content_type, _, _ in IMAGE_FORMATS.values())
SAME_FORMAT = {"MPO": "JPEG"}
# Everything else that may be sent, always served as a download.
FILE_TYPES = {
    "application/pdf": ("pdf",),
    "application/zip": ("zip",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("docx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("xlsx",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ("pptx",),
    "application/vnd.oasis.opendocument.text": ("odt",),
    "application/vnd.oasis.opendocument.spreadsheet": ("ods",),
    "application/vnd.oasis.opendocument.presentation": ("odp",),
    "text/plain": ("txt", "text", "log", "md", "csv"),
}
# Control characters a text file may hold: tab, line feed, form feed, carriage return.
TEXT_CONTROLS = frozenset("\t\n\f\r")


@dataclass
class Inspected:
    """An upload as it will be stored: `data` is the image encoded again (None: store the
    upload's own bytes)."""

    name: str
    content_type: str
    data: bytes | None = None
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None
    thumbnail_extension: str = ""


def clean_file_name(raw: object) -> str:
    """The last part of the name the client gave, without control or format characters (bidi
    overrides make `exe.pdf` read as `fdp.exe`), at most 255 characters, extension kept."""
    name = unicodedata.normalize("NFC", raw if isinstance(raw, str) else "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        char for char in name if unicodedata.category(char) not in {"Cc", "Cf", "Cs", "Zl", "Zp"}
    )
    name = name.strip(" .")  # no hidden-file dot, no trailing dots or spaces (Windows)
    if len(name) > NAME_MAX_LENGTH:
        suffix = PurePosixPath(name).suffix
        suffix = suffix if len(suffix) <= 16 else ""
        name = name[: NAME_MAX_LENGTH - len(suffix)].rstrip(" .") + suffix
    return name or "file"


def _named_for(name: str, extensions: tuple[str, ...]) -> str:
    """`name`, if its extension is one of the type's; with the type's added if it has none."""
    suffix = PurePosixPath(name).suffix.lower().lstrip(".")
    if not suffix:
        return clean_file_name(f"{name[: NAME_MAX_LENGTH - 8]}.{extensions[0]}")
    if suffix not in extensions:
        raise errors.AttachmentTypeNotAllowed(
            f"The file's name says .{suffix[:16]}, its content is not."
        )
    return name


def inspect_upload(upload, *, name: str, max_pixels: int) -> Inspected:
    """The type and the name to store `upload` (a Django `File`) under; for an image, its
    bytes without metadata, its size and a thumbnail. Raises `AttachmentTypeNotAllowed` or
    `AttachmentImageTooLarge`."""
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    kind = filetype.guess(head)
    content_type = kind.mime if kind is not None else None
    if content_type in IMAGE_TYPES:
        return _inspect_image(upload, name=name, max_pixels=max_pixels)
    if content_type is None and _is_text(upload):
        content_type = "text/plain"
    if content_type not in FILE_TYPES:
        raise errors.AttachmentTypeNotAllowed()
    return Inspected(name=_named_for(name, FILE_TYPES[content_type]), content_type=content_type)


def _is_text(upload) -> bool:
    """UTF-8 without control characters other than tab, line and page breaks."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    upload.seek(0)
    try:
        for chunk in upload.chunks():
            text = decoder.decode(chunk)
            if any(unicodedata.category(c) == "Cc" and c not in TEXT_CONTROLS for c in text):
                return False
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        upload.seek(0)
    return True


def _inspect_image(upload, *, name: str, max_pixels: int) -> Inspected:
    try:
        with Image.open(upload) as probe:
            image_format, (width, height) = probe.format, probe.size
            # A phone photo with a second picture (a depth map, an HDR gain map) is a JPEG that
            # Pillow names MPO; its first picture is kept, as of an animation.
            image_format = SAME_FORMAT.get(image_format, image_format)
            if image_format not in IMAGE_FORMATS:
                raise errors.AttachmentTypeNotAllowed()
            if width * height > max_pixels:
                raise errors.AttachmentImageTooLarge(
                    f"The image has {width}×{height} pixels, more than {max_pixels}."
                )
            probe.verify()  # checksums and structure, without decoding the pixels
        upload.seek(0)
        with Image.open(upload) as image:
            image.seek(0)  # the first frame of an animation
            image.load()
            upright = ImageOps.exif_transpose(image)
    except Image.DecompressionBombError:
        raise errors.AttachmentImageTooLarge() from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise errors.AttachmentTypeNotAllowed("The image can't be read.") from None
    content_type, extensions, options = IMAGE_FORMATS[image_format]
    stored_name = _named_for(name, extensions)
    clean = _pixels_only(upright)
    thumbnail, thumbnail_extension = _thumbnail(clean)
    return Inspected(
        name=stored_name,
        content_type=content_type,
        data=_encode(clean, image_format, options),
        width=clean.width,
        height=clean.height,
        thumbnail=thumbnail,
        thumbnail_extension=thumbnail_extension,
    )


def _pixels_only(image: Image.Image) -> Image.Image:
    """A new image made of `image`'s pixels (and palette) alone: nothing of its metadata can
    ride along into the encoder."""
    clean = Image.frombytes(image.mode, image.size, image.tobytes())
    if image.mode in ("P", "PA"):
        clean.putpalette(image.getpalette())
    if "transparency" in image.info and image.mode in ("P", "L", "RGB"):
        clean.info["transparency"] = image.info["transparency"]
    return clean


def _encode(image: Image.Image, image_format: str, options: dict) -> bytes:
    if image_format == "JPEG" and image.mode not in ("RGB", "L", "CMYK"):
        image = image.convert("RGB")
    out = io.BytesIO()
    extra = {}
    if "transparency" in image.info:
        extra["transparency"] = image.info["transparency"]
    image.save(out, image_format, **options, **extra)
    return out.getvalue()


def _thumbnail(image: Image.Image) -> tuple[bytes, str]:
    """At most THUMBNAIL_SIZE pixels on its longer side: PNG when it has transparency, else
    JPEG."""
    thumbnail = image.copy()
    thumbnail.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    transparent = thumbnail.mode in ("RGBA", "LA", "PA") or "transparency" in thumbnail.info
    out = io.BytesIO()
    if transparent:
        thumbnail.convert("RGBA").save(out, "PNG")
        return out.getvalue(), "png"
    thumbnail.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue(), "jpg"


THUMBNAIL_TYPES = {"png": "image/png", "jpg": "image/jpeg"}
