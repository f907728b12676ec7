"""Pull connectors: fetch roster snapshots from where agencies leave them, on a schedule.

Each kind of source is one module behind one small interface (``base.Connector``: ``fetch`` → roster
files in vinex's shape holding only roster fields, plus what is known of identity); ``registry`` says
which serves which kind. ``runner`` runs due sources for the scheduler and dry runs for onboarding.
"""

from vinex.feeds.connectors.base import Connector, ConnectorError, Fetched
from vinex.feeds.connectors.registry import CONNECTORS
from vinex.feeds.connectors.runner import DryRun, connector_dry_run, pull_source_run, pull_sources_run_due

__all__ = ["CONNECTORS", "Connector", "ConnectorError", "DryRun", "Fetched", "connector_dry_run", "pull_source_run",
           "pull_sources_run_due"]
