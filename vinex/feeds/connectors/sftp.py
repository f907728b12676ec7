"""An SFTP drop: the agency's server holds roster files (vinex's shape, or its own export with a map).

vinex logs in with a password or a private key (stored encrypted), checks the server against the
host key saved with the source (never trusting a key on first use), downloads the settled roster
files oldest first, and after each import moves the file to ``processed/`` or ``failed/`` beside it.
See docs/connectors/sftp.md. The SSH library is imported only when a source is run, so the web
server and the worker never load it.
"""

from __future__ import annotations

import asyncio
import posixpath
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from django.conf import settings

from vinex.feeds.connectors.base import ROSTER_SUFFIXES, Connector, ConnectorError, Fetched
from vinex.feeds.connectors.export import convert, with_preview
from vinex.feeds.connectors.http import host_check
from vinex.feeds.models import PullSource


def _options(source: PullSource) -> dict[str, Any]:
    import asyncssh

    address = urlparse(source.location)
    host, port = address.hostname or "", address.port or 22
    host_check(host, port)
    key = asyncssh.import_public_key((source.settings or {})["host_key"])
    options: dict[str, Any] = {"host": host, "port": port, "username": unquote(address.username or ""),
                               "known_hosts": ([key], [], []),
                               "connect_timeout": settings.VINEX_CONNECTOR_TIMEOUT_SECONDS}
    secret = source.auth_header_value or ""
    if secret.lstrip().startswith("-----BEGIN"):
        options["client_keys"] = [asyncssh.import_private_key(secret)]
        options["password"] = None
    else:
        options["password"] = secret
        options["client_keys"] = None
    return options


def _folder(source: PullSource) -> str:
    return unquote(urlparse(source.location).path) or "."


async def _download(source: PullSource, scratch: Path) -> list[tuple[str, Path]]:
    import asyncssh

    folder = _folder(source)
    settle = time.time() - settings.VINEX_CONNECTOR_SETTLE_SECONDS
    async with asyncssh.connect(**_options(source)) as connection, connection.start_sftp_client() as sftp:
        entries = [(e.attrs.mtime or 0, _name(e.filename)) for e in await sftp.readdir(folder)
                   if e.attrs.type == asyncssh.FILEXFER_TYPE_REGULAR and (e.attrs.mtime or 0) <= settle]
        ready = sorted((mtime, name) for mtime, name in entries if not name.startswith(".")
                       and posixpath.splitext(name)[1].lower() in ROSTER_SUFFIXES)
        found = []
        for number, (_, name) in enumerate(ready):
            local = scratch / f"sftp-{number}{posixpath.splitext(name)[1].lower()}"
            await sftp.get(posixpath.join(folder, name), str(local))
            found.append((name, local))
        return found


def _name(filename: str | bytes) -> str:
    return filename if isinstance(filename, str) else filename.decode("utf-8", errors="replace")


async def _file_away(source: PullSource, name: str, ok: bool) -> None:
    import asyncssh

    folder = _folder(source)
    target = posixpath.join(folder, "processed" if ok else "failed")
    async with asyncssh.connect(**_options(source)) as connection, connection.start_sftp_client() as sftp:
        if not await sftp.isdir(target):
            await sftp.mkdir(target)
        await sftp.rename(posixpath.join(folder, name), posixpath.join(target, name))


def _run(coroutine: Any) -> Any:
    import asyncssh

    try:
        return asyncio.run(asyncio.wait_for(coroutine, settings.VINEX_CONNECTOR_TIMEOUT_SECONDS * 4))
    except (asyncssh.Error, OSError) as error:
        raise ConnectorError(f"SFTP failed: {type(error).__name__}: {str(error)[:120]}") from None
    except ValueError:  # asyncssh's KeyImportError: a saved key it cannot read
        raise ConnectorError("SFTP failed: the saved host key or private key cannot be read") from None
    except TimeoutError:
        raise ConnectorError("the SFTP server did not answer in time") from None


class SftpConnector(Connector):
    def fetch(self, source: PullSource, scratch: Path, *, fresh: bool = False) -> list[Fetched]:
        export = (source.settings or {}).get("export")
        fetched = []
        for name, local in _run(_download(source, scratch)):
            if export:
                mapped = convert(local, export, local.with_suffix(".roster.csv"), origin_ref=name)
                fetched.append(with_preview(mapped))
            else:
                fetched.append(Fetched(path=local, origin_ref=name))
        return fetched

    def done(self, source: PullSource, fetched: Fetched, *, ok: bool) -> None:
        _run(_file_away(source, fetched.origin_ref, ok))
