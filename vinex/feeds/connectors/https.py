"""One address that serves a facility's current roster in vinex's own shape (CSV or JSON)."""

from __future__ import annotations

from pathlib import Path

import requests
import urllib3
from django.conf import settings

from vinex.feeds.connectors.base import Connector, ConnectorError, Fetched
from vinex.feeds.connectors.http import Client, auth_headers
from vinex.feeds.models import PullSource
from vinex.feeds.parsing import copy_stream


def download(source: PullSource, target: Path, *, fresh: bool, accept: str) -> Fetched | None:
    """The file at the source's address, or None when it has not changed (ETag / Last-Modified)."""
    headers = {"Accept": accept, **auth_headers(source.auth_header_name, source.auth_header_value)}
    if source.etag and not fresh:
        headers["If-None-Match"] = source.etag
    if source.last_modified and not fresh:
        headers["If-Modified-Since"] = source.last_modified
    client = Client()
    try:
        with client.request("GET", source.location, headers=headers, stream=True) as response:
            if response.status_code == 304:
                return None
            if response.status_code >= 400:
                raise ConnectorError(f"the server answered {response.status_code}")
            if "html" in response.headers.get("Content-Type", ""):
                raise ConnectorError(f"the source answered {response.status_code} with a web page instead of data")
            response.raw.decode_content = True
            copy_stream(response.raw, target, limit=settings.VINEX_ROSTER_MAX_BYTES)
            return Fetched(path=target, content_type=response.headers.get("Content-Type", ""),
                           etag=response.headers.get("ETag", "")[:200],
                           last_modified=response.headers.get("Last-Modified", "")[:100], origin_ref=source.location)
    except (requests.RequestException, urllib3.exceptions.HTTPError) as error:
        raise ConnectorError(f"fetch failed: {type(error).__name__}") from None
    except OverflowError:
        raise ConnectorError("roster is too large") from None
    finally:
        client.close()


class HttpsConnector(Connector):
    """An address that serves the current roster, with an authorisation header; unchanged content is skipped."""

    def fetch(self, source: PullSource, scratch: Path, *, fresh: bool = False) -> list[Fetched]:
        fetched = download(source, scratch / "roster", fresh=fresh, accept="text/csv, application/json")
        return [fetched] if fetched else []
