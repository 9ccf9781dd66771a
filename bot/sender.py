"""The outbox sender: the only code that delivers messages. Retries, backs off, keeps order.

Each pass takes the oldest pending message of each participant that is due, decrypts the address
from the vault, and hands it to that channel's ``Sender``. Messages to one participant go strictly
in order; different participants go concurrently, within a per-channel rate limit.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.base import Outbound, Sender, TemplateSender
from bot.errors import ConfigError, PermanentDelivery, RetryableDelivery
from bot.vault import Vault
from storage import erasure, outbox, participants
from storage.db import as_utc
from storage.models import OutboxItem, Participant

log = logging.getLogger(__name__)

WHATSAPP_WINDOW = timedelta(hours=24)


class RateLimiter:
    """A token bucket per key: at most ``rate`` sends per second, bursts up to ``burst``."""

    def __init__(
        self, rate: float, monotonic: Callable[[], float], burst: float | None = None
    ) -> None:
        if rate <= 0:
            raise ConfigError("outbox rates must be above 0")
        self._rate = rate
        self._burst = max(burst or rate, 1.0)  # below 1/s the bucket must still hold one whole send
        self._monotonic = monotonic
        self._tokens: dict[str, float] = {}
        self._stamp: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def acquire(self, channel: str) -> None:
        """Wait until one more send on ``channel`` is allowed (channels do not wait on each other)."""
        if len(self._locks) > 10_000:
            self._forget_idle()
        async with self._locks.setdefault(channel, asyncio.Lock()):
            while True:
                now = self._monotonic()
                tokens = min(
                    self._burst,
                    self._tokens.get(channel, self._burst)
                    + (now - self._stamp.get(channel, now)) * self._rate,
                )
                self._stamp[channel] = now
                if tokens >= 1:
                    self._tokens[channel] = tokens - 1
                    return
                self._tokens[channel] = tokens
                await asyncio.sleep((1 - tokens) / self._rate)

    def _forget_idle(self) -> None:
        """Drop buckets that have refilled (their state is the default again)."""
        now = self._monotonic()
        for key in [
            k for k, stamp in self._stamp.items() if (now - stamp) * self._rate >= self._burst
        ]:
            if not self._locks[key].locked():
                del self._locks[key], self._stamp[key], self._tokens[key]


class OutboxSender:
    """Delivers due outbox rows; ``wake()`` after a commit makes it look at once."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        senders: Mapping[str, Sender],
        vault: Vault,
        clock: Callable[[], datetime],
        max_attempts: int,
        per_second: float,
        chat_rates: Mapping[str, float] | None = None,
        whatsapp_templates: Mapping[str, Mapping[str, str]] | None = None,
        channel_rates: Mapping[str, float] | None = None,
        monotonic: Callable[[], float] | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._sessions = sessions
        self._senders = senders
        self._vault = vault
        self._clock = clock
        self._max_attempts = max_attempts
        loop_time = monotonic or (lambda: asyncio.get_running_loop().time())
        # One bucket per channel; Twilio's rate is per sending number, set in config.
        self._limiters = {
            channel: RateLimiter(rate, loop_time) for channel, rate in (channel_rates or {}).items()
        }
        self._default_limiter = RateLimiter(per_second, loop_time)
        # Per-conversation limits where a platform has one (Telegram: about 1/s per chat, short
        # bursts allowed; a turn is at most three messages, so those go out at once).
        self._chat_limiters = {
            channel: RateLimiter(rate, loop_time, burst=3)
            for channel, rate in (chat_rates or {}).items()
        }
        self._jitter = jitter
        self._whatsapp_templates = whatsapp_templates or {}
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Ask for a delivery pass now (called after a transaction that queued messages)."""
        self._wake.set()

    async def recover(self) -> None:
        """After a crash, messages caught mid-send go back to pending (at-least-once delivery)."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.status == "sending")
                .values(status="pending", next_attempt_at=self._clock())
            )

    async def run(self, stop: asyncio.Event, idle_seconds: float = 1.0) -> None:
        """Deliver until ``stop`` is set; never dies on a failed pass."""
        while not stop.is_set():
            try:
                while await self.deliver_due():
                    pass
            except Exception:  # a database hiccup must not stop delivery for good
                log.exception("outbox pass failed; retrying")
            self._wake.clear()
            waits = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait())]
            await asyncio.wait(waits, timeout=idle_seconds, return_when=asyncio.FIRST_COMPLETED)
            for task in waits:
                task.cancel()

    async def deliver_due(self) -> int:
        """One pass: deliver what is due (one per participant); returns how many were attempted."""
        now = self._clock()
        async with self._sessions.begin() as session:
            items = await outbox.due(session, now)
            claimed = []
            for item in items:
                outbox.claim(item, now)
                claimed.append(
                    (
                        item.id,
                        item.participant_id,
                        item.channel,
                        item.kind,
                        item.text,
                        tuple(item.choices or ()),
                    )
                )
        results = await asyncio.gather(
            *(self._deliver(*c) for c in claimed), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):  # e.g. the database failed while settling:
                # the row stays "sending" and its lease brings it back; never lose the pass.
                log.error("outbox delivery could not be settled: %s", type(result).__name__)
        return len(claimed)

    async def _deliver(
        self,
        item_id: int,
        participant_id: int,
        channel: str,
        kind: str,
        text: str,
        choices: tuple[str, ...],
    ) -> None:
        sender = self._senders.get(channel)
        async with self._sessions() as session:
            participant = await session.get(Participant, participant_id)
            sealed = await participants.sealed_address(session, participant_id)
        opted_out = participant is None or (
            participant.opted_out_at is not None and kind not in outbox.ALWAYS_DELIVERED
        )
        unreachable = participant is not None and participant.unreachable_at is not None
        error: str | None = None
        retry_after: float | None = None
        permanent = False
        platform_id: str | None = None
        refused = False  # the platform said this participant cannot be reached
        unsubscribed = False  # ... because they opted out of our messages
        if sender is None:
            error, permanent = f"channel {channel} is not enabled", True
        elif opted_out or sealed is None:
            error, permanent = "participant opted out", True
        elif unreachable:
            error, permanent = "participant unreachable on this channel", True
        else:
            try:
                address = self._vault.open(sealed)
                await self._limiters.get(channel, self._default_limiter).acquire(channel)
                if channel in self._chat_limiters:
                    await self._chat_limiters[channel].acquire(str(participant_id))
                assert participant is not None
                template = self._template_needed(channel, kind, participant)
                if template is None:
                    platform_id = await sender.send(address, Outbound(text=text, choices=choices))
                elif isinstance(sender, TemplateSender) and template:
                    platform_id = await sender.send_template(address, template, {"1": text})
                else:
                    raise PermanentDelivery(
                        f"outside WhatsApp's 24-hour window and no template for {kind!r}"
                    )
            except RetryableDelivery as exc:
                error, retry_after = str(exc)[:200], exc.retry_after
            except PermanentDelivery as exc:
                error, permanent, refused = str(exc)[:200], True, True
                unsubscribed = exc.unsubscribed
            except ConfigError as exc:
                error, permanent = str(exc)[:200], True
            except Exception as exc:  # an adapter bug: keep the message, try again later
                log.exception("unexpected error from %s sender", channel)
                error = type(exc).__name__
        await self._settle(
            item_id,
            participant_id,
            kind,
            platform_id,
            error,
            permanent,
            retry_after,
            refused,
            unsubscribed,
        )

    def _template_needed(self, channel: str, kind: str, participant: Participant) -> str | None:
        """None if free text may be sent; else the WhatsApp template to use ("" if none is set).

        WhatsApp allows free text only within 24 hours of the person's last message; after that,
        only a template approved in advance.
        """
        if channel != "whatsapp":
            return None
        last = participant.last_inbound_at
        if last is not None and self._clock() - as_utc(last) < WHATSAPP_WINDOW:
            return None
        by_language = self._whatsapp_templates.get(kind, {})
        return by_language.get(participant.language) or by_language.get("en") or ""

    async def _settle(
        self,
        item_id: int,
        participant_id: int,
        kind: str,
        platform_id: str | None,
        error: str | None,
        permanent: bool,
        retry_after: float | None,
        refused: bool = False,
        unsubscribed: bool = False,
    ) -> None:
        now = self._clock()
        async with self._sessions.begin() as session:
            item = await session.get(OutboxItem, item_id)
            if item is None:
                return
            item.attempts += 1
            if error is None:
                item.status, item.sent_at, item.platform_message_id = "sent", now, platform_id
            elif permanent or item.attempts >= self._max_attempts:
                item.status, item.last_error = "failed", error
                log.warning("outbox item %s failed for good: %s", item_id, error)
            else:
                item.status, item.last_error = "pending", error
                item.next_attempt_at = now + outbox.backoff(
                    item.attempts, retry_after, self._jitter()
                )
            if refused:
                participant = await session.get(Participant, participant_id)
                if participant is not None:
                    participant.unreachable_at = participant.unreachable_at or now
                    if (
                        unsubscribed
                    ):  # e.g. they texted STOP to the carrier: no more messages at all
                        participant.opted_out_at = participant.opted_out_at or now
            if kind == "erase_confirmation" and item.status in ("sent", "failed"):
                # The parent has been told (or cannot be): now forget them entirely.
                await erasure.delete_participant(session, participant_id)
