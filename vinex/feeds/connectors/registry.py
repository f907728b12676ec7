"""Which connector serves which kind of source: adding a kind is a new module and a line here."""

from __future__ import annotations

from vinex.feeds.connectors.base import Connector
from vinex.feeds.connectors.directory import DirectoryConnector
from vinex.feeds.connectors.export import ExportConnector
from vinex.feeds.connectors.https import HttpsConnector
from vinex.feeds.connectors.jailtracker import JailTrackerConnector
from vinex.feeds.connectors.sftp import SftpConnector
from vinex.feeds.connectors.zuercher import ZuercherConnector
from vinex.feeds.models import ConnectorKind

CONNECTORS: dict[str, Connector] = {
    ConnectorKind.DIRECTORY: DirectoryConnector(),
    ConnectorKind.HTTPS: HttpsConnector(),
    ConnectorKind.ZUERCHER: ZuercherConnector(),
    ConnectorKind.JAILTRACKER: JailTrackerConnector(),
    ConnectorKind.EXPORT: ExportConnector(),
    ConnectorKind.SFTP: SftpConnector(),
}
