"""An upload handler that stops reading a file as soon as it passes TWIN_IMPORT_MAX_BYTES, so an
oversized upload never lands in memory or on disk (Django's CSRF check reads the body before views)."""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile


class LimitedUploadHandler(FileUploadHandler):
    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.TWIN_IMPORT_MAX_BYTES:
            if self.request is not None:
                self.request.upload_too_large = True
            raise SkipFile(f"{self.file_name} is over TWIN_IMPORT_MAX_BYTES")
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handlers build the file
