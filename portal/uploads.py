"""An upload handler that stops reading a file past the size limit, before it fills a disk.

Django buffers uploads (in memory, then a temporary file) before any view runs. This handler
runs first and skips a file once it passes ``FILE_UPLOAD_MAX_BYTES``; the file then never
reaches the view, and ``oversized_uploads(request)`` names the fields it dropped so forms and
the API answer with a clear "too large" error instead of "no file".
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile

_ATTRIBUTE = "_oversized_uploads"


def oversized_uploads(request) -> set[str]:
    return getattr(request, _ATTRIBUTE, set())


class MaxSizeUploadHandler(FileUploadHandler):
    def new_file(self, field_name, *args, **kwargs):
        super().new_file(field_name, *args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.FILE_UPLOAD_MAX_BYTES:
            dropped = getattr(self.request, _ATTRIBUTE, set())
            dropped.add(self.field_name)
            setattr(self.request, _ATTRIBUTE, dropped)
            raise SkipFile
        return raw_data  # the next handlers store it

    def file_complete(self, file_size):
        return None
