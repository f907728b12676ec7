"""HTTP for connectors: only public addresses, no redirect to another host, polite and bounded.

A connector fetches from an address an operator typed in, so the address must not become a way into
the network vinex runs in: names that resolve to private, loopback, link-local or otherwise reserved
addresses are refused (unless ``VINEX_CONNECTOR_ALLOW_PRIVATE`` or ``VINEX_CONNECTOR_ALLOWED_NETWORKS``
says otherwise), redirects are followed only on the same scheme, host and port (so an agency's key is
never sent to another host), every request has a timeout and a size limit, and the requests of one
fetch are spaced by ``VINEX_CONNECTOR_REQUEST_INTERVAL_SECONDS``.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from typing import Any
from urllib.parse import urljoin, urlparse

import requests
from django.conf import settings

from vinex.feeds.connectors.base import ConnectorError

_LOCAL_NAMES = {"127.0.0.1", "localhost", "::1"}
_REDIRECTS = {301, 302, 303, 307, 308}
MAX_REDIRECTS = 3
_CHUNK = 64 * 1024


def _allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if address.is_global and not address.is_multicast:
        return True
    if settings.VINEX_CONNECTOR_ALLOW_PRIVATE:
        return True
    return any(address in ipaddress.ip_network(net) for net in settings.VINEX_CONNECTOR_ALLOWED_NETWORKS)


def address_check(url: str) -> None:
    """Raise ConnectorError unless ``url`` is https (or http on this machine, where allowed) to a permitted host."""
    parts = urlparse(url)
    host = parts.hostname or ""
    if parts.scheme != "https" and not (parts.scheme == "http" and host in _LOCAL_NAMES):
        raise ConnectorError("roster addresses must use https://")
    host_check(host, parts.port or (443 if parts.scheme == "https" else 80))


def host_check(host: str, port: int) -> None:
    """Raise ConnectorError unless every address ``host`` resolves to is one a connector may reach."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ConnectorError(f"the host name {host!r} does not resolve") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not _allowed(address):
            raise ConnectorError(f"{host} is a private, loopback or link-local address; refused")


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlparse(a), urlparse(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


class Client:
    """One fetch's HTTP session: checks every address, spaces its requests, never leaves the first host."""

    def __init__(self) -> None:
        self.session = requests.Session()
        # Proxies and .netrc from the environment would send an agency's key somewhere else.
        self.session.trust_env = False
        self._last = 0.0

    def close(self) -> None:
        self.session.close()

    def _pace(self) -> None:
        wait = self._last + settings.VINEX_CONNECTOR_REQUEST_INTERVAL_SECONDS - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last = time.monotonic()

    def request(self, method: str, url: str, *, headers: dict[str, str] | None = None,
                json_body: Any = None, stream: bool = False) -> requests.Response:
        """The response to ``method url``, after same-origin redirects; raises ConnectorError on refusal or failure."""
        first = url
        for _ in range(MAX_REDIRECTS + 1):
            address_check(url)
            self._pace()
            try:
                response = self.session.request(method, url, headers=headers, json=json_body, stream=stream,
                                                allow_redirects=False,
                                                timeout=settings.VINEX_CONNECTOR_TIMEOUT_SECONDS)
            except requests.Timeout:
                raise ConnectorError("the source did not answer in time") from None
            except requests.RequestException as error:
                raise ConnectorError(f"fetch failed: {type(error).__name__}") from None
            if response.status_code not in _REDIRECTS:
                return response
            target = urljoin(url, response.headers.get("Location", ""))
            response.close()
            if not _same_origin(first, target):
                raise ConnectorError(f"the source redirected to another host ({urlparse(target).hostname}); refused")
            url = target
            if response.status_code == 303:
                method, json_body = "GET", None
        raise ConnectorError("too many redirects")

    def json(self, method: str, url: str, *, headers: dict[str, str] | None = None, json_body: Any = None) -> Any:
        """A JSON answer, refusing error statuses, web pages served instead of data, and oversized bodies."""
        response = self.request(method, url, headers={"Accept": "application/json", **(headers or {})},
                                json_body=json_body, stream=True)
        with response:
            if response.status_code >= 400:
                raise ConnectorError(f"the server answered {response.status_code}")
            body = _read_bounded(response)
        kind = response.headers.get("Content-Type", "")
        if "html" in kind or body.lstrip()[:1] == b"<":
            raise ConnectorError(f"the source answered {response.status_code} with a web page instead of data")
        try:
            return json.loads(body)
        except ValueError:
            raise ConnectorError("the source's answer is not valid JSON") from None


def _read_bounded(response: requests.Response) -> bytes:
    limit = settings.VINEX_CONNECTOR_MAX_PAGE_BYTES
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise ConnectorError("the source's answer is too large")
            chunks.append(chunk)
    except requests.RequestException as error:
        raise ConnectorError(f"fetch failed: {type(error).__name__}") from None
    return b"".join(chunks)


def auth_headers(name: str, value: str) -> dict[str, str]:
    """The source's own header, if it has one (sent only to its own host: ``Client`` never leaves it)."""
    return {name or "Authorization": value} if value else {}
