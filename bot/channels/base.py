"""The values that cross the adapter boundary, and the shape every channel has.

Adapters only translate: verify, parse and normalise inbound requests into ``Inbound``; format and
send ``Outbound``. The raw ``address`` (a Telegram chat id, a phone number) leaves the adapter only
towards the pseudonymiser and the encrypted contact vault; it is never stored in clear or logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable


class InboundKind(StrEnum):
    """What a parent sent, as far as the pipeline cares."""

    TEXT = "text"
    MEDIA = "media"  # photo, sticker, voice note, file...: we ask them to type instead


@dataclass(frozen=True)
class Inbound:
    """One message from a parent, normalised by a channel adapter."""

    channel: str  # "telegram", "web", later "sms", "whatsapp"
    address: str  # raw channel address; sensitive, goes only to the pseudonymiser and the vault
    platform_id: str  # unique per channel, so a replayed delivery is recognised and ignored
    kind: InboundKind
    text: str  # raw text as typed ("" for media); sensitive, redacted before storage
    received_at: datetime
    language_hint: str | None = None  # e.g. Telegram's user.language_code


@dataclass(frozen=True)
class Outbound:
    """One message to a parent. ``choices`` are button titles; every choice also works by number."""

    text: str
    choices: tuple[str, ...] = field(default_factory=tuple)


class Sender(Protocol):
    """What the outbox sender needs from a channel: deliver one message to one raw address."""

    name: str

    async def send(self, address: str, message: Outbound) -> str:
        """Deliver ``message``; return the platform's message id.

        Raises ``RetryableDelivery`` or ``PermanentDelivery`` (bot.errors) on failure.
        """
        ...


@runtime_checkable
class TemplateSender(Protocol):
    """A channel that can send a pre-approved template (WhatsApp outside its 24-hour window)."""

    async def send_template(
        self, address: str, content_sid: str, variables: Mapping[str, str]
    ) -> str:
        """Send template ``content_sid`` filled with ``variables``; return the platform's id."""
        ...


@runtime_checkable
class SentFinder(Protocol):
    """A channel that can tell whether a message already went out (after a crash mid-send)."""

    async def find_sent(self, address: str, text: str, since: datetime) -> str | None:
        """The platform's id of ``text`` sent to ``address`` since ``since``, or None."""
        ...
