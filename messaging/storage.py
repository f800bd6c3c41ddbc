"""Attachment files in MongoDB's GridFS, through Django's storage API.

The default storage of attachments (`STORAGES["attachments"]`): the files live in the same
database as the messages, so any number of serving processes on any number of machines share
them without a shared disk, and one MongoDB backup holds everything. Another Django storage
(django-storages for S3-compatible stores, say) is a settings change: nothing else reads this
module (README, "Attachments").

Built on pymongo's public `gridfs.GridFSBucket`. A name is written once (`upload_to` makes each
one unique); GridFS keeps a file's chunks apart from its entry and writes them outside any
transaction (GridFS does not support them), so `_save` is all or nothing by itself: an upload
that fails part-way is aborted and its chunks deleted by the bucket.
"""

from __future__ import annotations

from datetime import UTC

import gridfs
from django.core.files.base import File
from django.core.files.storage import Storage
from django.db import connections
from django.utils.deconstruct import deconstructible


@deconstructible(path="messaging.storage.GridFSStorage")
class GridFSStorage(Storage):
    """Files of the bucket `bucket_name` (collections `<bucket>.files` and `<bucket>.chunks`)
    in the database of the Django connection `using`."""

    def __init__(self, bucket_name: str = "attachments", using: str = "default"):
        self.bucket_name = bucket_name
        self.using = using

    def _bucket(self) -> gridfs.GridFSBucket:
        return gridfs.GridFSBucket(connections[self.using].database, bucket_name=self.bucket_name)

    def _entry(self, name: str) -> dict | None:
        files = connections[self.using].database[f"{self.bucket_name}.files"]
        return files.find_one({"filename": name}, sort=[("uploadDate", -1)])

    def _open(self, name: str, mode: str = "rb") -> File:
        if "w" in mode or "a" in mode or "+" in mode:
            raise ValueError("GridFS files are written once, through save().")
        entry = self._entry(name)
        if entry is None:
            raise FileNotFoundError(name)
        # A file object that reads the chunks as it goes: downloads are streamed.
        return File(self._bucket().open_download_stream(entry["_id"]), name=name)

    def _save(self, name: str, content) -> str:
        content.seek(0)
        self._bucket().upload_from_stream(name, content)
        return name

    def delete(self, name: str) -> None:
        if not name:
            return
        bucket = self._bucket()
        for entry in bucket.find({"filename": name}):
            bucket.delete(entry._id)

    def exists(self, name: str) -> bool:
        return self._entry(name) is not None

    def size(self, name: str) -> int:
        entry = self._entry(name)
        if entry is None:
            raise FileNotFoundError(name)
        return entry["length"]

    def get_created_time(self, name: str):
        entry = self._entry(name)
        if entry is None:
            raise FileNotFoundError(name)
        uploaded = entry["uploadDate"]
        return uploaded if uploaded.tzinfo else uploaded.replace(tzinfo=UTC)

    get_modified_time = get_created_time

    def url(self, name: str) -> str:
        # Files are served by the API, which checks who may read them (`/api/attachments/<id>`).
        raise NotImplementedError("GridFS files have no URL of their own; see AttachmentApi.")
