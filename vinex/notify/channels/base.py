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
    """A send that failed. ``permanent`` says whether trying again could help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Channel(ABC):
    name: str

    @abstractmethod
    def send(self, notification: Notification) -> ProviderResult:
        """Hand the message to the provider or raise DeliveryError."""

    def close(self) -> None:  # noqa: B027 - optional hook, most channels hold nothing open
        """Release connections held between sends."""
