"""Refuse request bodies before Django reads them."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware, InvalidTokenFormat, _check_token_format, _does_token_match

BODY_METHODS = ("POST", "PUT", "PATCH")


class RequestBodyLimitMiddleware:
    """Answers before any parsing (CSRF's check reads the form, so this must run first):

    - ``413`` for a declared body over ``TWIN_MAX_REQUEST_BYTES`` (the upload limit plus room for the
      form), for every visitor;
    - for a visitor who is not signed in, a multipart body is limited to
      ``TWIN_ANONYMOUS_MAX_REQUEST_BYTES`` (413 above it: a login form is small) and its files are
      read past and dropped (:class:`DiscardFilesUploadHandler`): only signed-in users upload, so an anonymous request never
      writes a temporary file;
    - a signed-in user's multipart body keeps its files only when the request carries a valid CSRF
      token outside the body (the ``csrfmiddlewaretoken`` query parameter the upload form puts in its
      action, or the ``X-CSRFToken`` header): Django's CSRF check reads the whole form, files
      included, before it can refuse, so without this a forged upload would be written to a
      temporary file first. Without a valid token the files are dropped unread and the CSRF check
      then refuses the request as usual.
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
                return HttpResponse(
                    f"The request is too large (at most {limit_mb:.0f} MB).", status=413, content_type="text/plain"
                )
            if request.content_type == "multipart/form-data" and not request.user.is_authenticated:
                if size > settings.TWIN_ANONYMOUS_MAX_REQUEST_BYTES:
                    return HttpResponse("Sign in to upload files.", status=413, content_type="text/plain")
                request.upload_handlers = [DiscardFilesUploadHandler(request)]
            elif request.content_type == "multipart/form-data" and not _csrf_token_outside_body_is_valid(request):
                request.upload_handlers = [DiscardFilesUploadHandler(request)]
        return self.get_response(request)


class DiscardFilesUploadHandler(FileUploadHandler):
    """Reads past every file of a multipart body and keeps nothing (not in memory, not on disk). An
    empty handler list would not do: Django re-installs the default handlers when the list is empty."""

    def receive_data_chunk(self, raw_data, start):
        return None

    def file_complete(self, file_size):
        return None


def _csrf_token_outside_body_is_valid(request) -> bool:
    """The CSRF token of the query string or header matches the visitor's CSRF secret (Django's own
    comparison); the body is not read."""
    if getattr(request, "_dont_enforce_csrf_checks", False):  # Django's test client, as CsrfViewMiddleware
        return True
    token = request.GET.get("csrfmiddlewaretoken") or request.META.get(settings.CSRF_HEADER_NAME, "")
    try:
        secret = CsrfViewMiddleware(lambda request: None)._get_secret(request)
        _check_token_format(token)
    except InvalidTokenFormat:
        return False
    return secret is not None and _does_token_match(token, secret)
