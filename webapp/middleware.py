"""Refuse request bodies before Django reads them."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse

BODY_METHODS = ("POST", "PUT", "PATCH")


class RequestBodyLimitMiddleware:
    """Answers before any parsing (CSRF's check reads the form, so this must run first):

    - ``413`` for a declared body over ``TWIN_MAX_REQUEST_BYTES`` (the upload limit plus room for the
      form), for every visitor;
    - for a visitor who is not signed in, a multipart body is limited to
      ``TWIN_ANONYMOUS_MAX_REQUEST_BYTES`` (413 above it: a login form is small) and its files are
      dropped unread (no upload handlers): only signed-in users upload, so an anonymous request never
      writes a temporary file.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in BODY_METHODS:
            try:
                size = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return HttpResponse("Invalid Content-Length.", status=400, content_type="text/plain")
            if size > settings.TWIN_MAX_REQUEST_BYTES:
                limit_mb = settings.TWIN_MAX_REQUEST_BYTES / 1024 / 1024
                return HttpResponse(f"The request is too large (at most {limit_mb:.0f} MB).", status=413,
                                    content_type="text/plain")
            if request.content_type == "multipart/form-data" and not request.user.is_authenticated:
                if size > settings.TWIN_ANONYMOUS_MAX_REQUEST_BYTES:
                    return HttpResponse("Sign in to upload files.", status=413, content_type="text/plain")
                request.upload_handlers = []
        return self.get_response(request)
