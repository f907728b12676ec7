"""The WSGI handler: requests under /api/ through the API's middleware, every other through the whole list.

Django builds one middleware chain per handler from ``settings.MIDDLEWARE``. The API needs none of the
browser's middleware (``settings.BROWSER_ONLY_MIDDLEWARE``), so the handler keeps a second chain built
from ``settings.API_MIDDLEWARE`` and picks one by path.
"""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponseBase

API_PREFIX = "/api/"


class _ChainHandler(BaseHandler):
    """A handler whose chain is ``middleware`` rather than ``settings.MIDDLEWARE``."""

    def __init__(self, middleware: list[str]) -> None:
        super().__init__()
        self._middleware_names = middleware
        self.load_middleware()

    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler reads the list from settings and takes no argument. This runs once, when the process
        # loads the application, before any request.
        whole = settings.MIDDLEWARE
        settings.MIDDLEWARE = self._middleware_names
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = whole


class SplitWSGIHandler(WSGIHandler):
    """Django's WSGI handler with a lighter chain for the API."""

    def __init__(self) -> None:
        super().__init__()
        self._api = _ChainHandler(list(settings.API_MIDDLEWARE))

    def get_response(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info.startswith(API_PREFIX):
            return self._api.get_response(request)
        return super().get_response(request)
