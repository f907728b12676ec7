"""The interface every delivery channel implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from vinex.notify.models import Notification


@dataclass(frozen=True)
class ProviderResult:
    provider_id: str = ""
    # True when the provider has confirmed delivery itself (SMTP acceptance is as far as email goes).
    delivered: bool = False


class DeliveryError(Exception):
    """A send that failed. ``permanent`` says whether trying again could help.

    ``retry_after`` (seconds) is set when the provider asked us to slow down: the message was refused
    unsent, and the whole provider account waits that long (see ``vinex.notify.breaker``).
    ``provider_fault`` marks failures of the provider itself (5xx, timeouts, connection refused), which
    count towards its circuit breaker; a bad recipient does not.
    """

    def __init__(self, message: str, *, permanent: bool, retry_after: float | None = None,
                 provider_fault: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.provider_fault = provider_fault


class Channel(ABC):
    name: str
    # The provider account this channel sends through, for back-off and the circuit breaker; "" for
    # channels that need neither (development log channels, the file outbox).
    provider: str = ""

    @abstractmethod
    def send(self, notification: Notification) -> ProviderResult:
        """Hand the message to the provider or raise DeliveryError."""

    def close(self) -> None:  # noqa: B027 - optional hook, most channels hold nothing open
        """Release connections held between sends."""
