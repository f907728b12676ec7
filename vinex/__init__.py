"""vinex: Victim Information and Notification Exchange."""

__version__ = "0.1.0"
