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
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.base import Outbound, Sender, SentFinder, TemplateSender
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
        self._burst = max(burst or 1.0, 1.0)  # at least one whole send
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
        instance: str = "app",
        monotonic: Callable[[], float] | None = None,
        jitter: Callable[[], float] = random.random,
        staff_addresses: Mapping[str, str] | None = None,
    ) -> None:
        self._sessions = sessions
        self._senders = senders
        # Staff channels (bot.channels.staff) go to an address from config, not the vault.
        self._staff_addresses = dict(staff_addresses or {})
        self._vault = vault
        self._clock = clock
        self._max_attempts = max_attempts
        loop_time = monotonic or (lambda: asyncio.get_running_loop().time())
        # One bucket per channel; Twilio's rate is per sending number, set in config. Burst 1
        # paces sends evenly, so no one-second window ever holds more than the configured rate.
        self._limiters = {
            channel: RateLimiter(rate, loop_time, burst=1)
            for channel, rate in (channel_rates or {}).items()
        }
        self._default_limiter = RateLimiter(per_second, loop_time, burst=1)
        # Per-conversation limits where a platform has one (Telegram: about 1/s per chat, short
        # bursts allowed; a turn is at most three messages, so those go out at once).
        self._chat_limiters = {
            channel: RateLimiter(rate, loop_time, burst=3)
            for channel, rate in (chat_rates or {}).items()
        }
        self._jitter = jitter
        self._whatsapp_templates = whatsapp_templates or {}
        # Names this process across restarts (host and port), so it can take back what it was
        # sending when it died; other processes' rows wait for their lease to run out.
        self._instance = instance
        self._wake = asyncio.Event()
        # Outcomes of sends already made whose recording failed (the database went away): they
        # are recorded before anything else is claimed, not left to the 2-minute lease.
        self._unsettled: list[tuple[_Job, _Outcome]] = []
        self._unsettled_since: datetime | None = None

    def wake(self) -> None:
        """Ask for a delivery pass now (called after a transaction that queued messages)."""
        self._wake.set()

    async def recover(self) -> None:
        """After a crash, this instance's messages caught mid-send are due again at once. They stay
        "sending", so the next pass knows they may have gone out and asks the channel first where
        it can."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(OutboxItem)
                # Only our own: another process's sends in flight must not be taken from it.
                .where(OutboxItem.status == "sending", OutboxItem.claimed_by == self._instance)
                .values(next_attempt_at=self._clock())  # due now, still marked as uncertain
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
        """One pass: deliver what is due (one per participant); returns how many were attempted.

        One transaction claims the pass and reads what sending needs; the sends run concurrently
        without the database; one transaction records every outcome.
        """
        now = self._clock()
        if self._unsettled:
            assert self._unsettled_since is not None
            if now - self._unsettled_since > outbox.SENDING_LEASE:
                # Past the lease the rows are due again anyway: stop trying (so a recording that
                # can never succeed does not stop the sender for good).
                log.error("dropping %s unrecorded send outcomes", len(self._unsettled))
                self._unsettled = []
            else:  # raises while the database is still away; run() tries again
                await self._settle(self._unsettled)
                self._unsettled = []
        async with self._sessions.begin() as session:
            items = await outbox.due(session, now)
            # A row still "sending" was cut short (a crash, a lapsed lease): it may have gone out.
            uncertain = {item.id for item in items if item.status == "sending"}
            for item in items:
                outbox.claim(item, now, self._instance)
            people = await participants.for_sending(
                session, [item.participant_id for item in items]
            )
            jobs = []
            for item in items:
                person, sealed = people.get(item.participant_id, (None, None))
                jobs.append(
                    _Job(
                        item_id=item.id,
                        participant_id=item.participant_id,
                        channel=item.channel,
                        kind=item.kind,
                        text=item.text,
                        choices=tuple(item.choices or ()),
                        participant=person,
                        sealed=sealed,
                        uncertain=item.id in uncertain,
                        created_at=as_utc(item.created_at),
                    )
                )
        if not jobs:
            return 0
        results = await asyncio.gather(
            *(self._attempt(job) for job in jobs), return_exceptions=True
        )
        outcomes = []
        for job, result in zip(jobs, results, strict=True):
            if isinstance(result, BaseException):  # an adapter bug: keep the message for later
                log.error("unexpected error from %s sender: %s", job.channel, type(result).__name__)
                result = _Outcome(error=type(result).__name__)
            outcomes.append((job, result))
        try:
            await self._settle(outcomes)
        except Exception as exc:  # rows stay "sending" (the lease covers a crash) until recorded
            if not self._unsettled:
                self._unsettled_since = self._clock()
            self._unsettled += outcomes
            log.error("outbox pass could not be settled: %s", type(exc).__name__)
        return len(jobs)

    async def _attempt(self, job: _Job) -> _Outcome:
        """Try to send one message; never touches the database."""
        sender = self._senders.get(job.channel)
        person = job.participant
        if sender is None:
            return _Outcome(error=f"channel {job.channel} is not enabled", permanent=True)
        if job.channel in self._staff_addresses:
            return await self._attempt_staff(job, sender, self._staff_addresses[job.channel])
        if (
            person is None
            or job.sealed is None
            or (person.opted_out_at is not None and job.kind not in outbox.ALWAYS_DELIVERED)
        ):
            return _Outcome(error="participant opted out", permanent=True)
        if person.unreachable_at is not None:
            return _Outcome(error="participant unreachable on this channel", permanent=True)
        try:
            address = self._vault.open(job.sealed)
            if job.uncertain and job.created_at is not None and isinstance(sender, SentFinder):
                # Exactly once where the platform can tell us: no later message to this person
                # can have gone before this one, so the same text since it was queued is it.
                already = await sender.find_sent(address, job.text, job.created_at)
                if already is not None:
                    return _Outcome(platform_id=already)
            await self._limiters.get(job.channel, self._default_limiter).acquire(job.channel)
            if job.channel in self._chat_limiters:
                await self._chat_limiters[job.channel].acquire(str(job.participant_id))
            template = self._template_needed(job.channel, job.kind, person)
            if template is None:
                return _Outcome(
                    platform_id=await sender.send(address, Outbound(job.text, job.choices))
                )
            if isinstance(sender, TemplateSender) and template:
                return _Outcome(
                    platform_id=await sender.send_template(address, template, {"1": job.text})
                )
            raise PermanentDelivery(
                f"outside WhatsApp's 24-hour window and no template for {job.kind!r}"
            )
        except RetryableDelivery as exc:
            return _Outcome(error=str(exc)[:200], retry_after=exc.retry_after)
        except PermanentDelivery as exc:
            return _Outcome(
                error=str(exc)[:200], permanent=True, refused=True, unsubscribed=exc.unsubscribed
            )
        except ConfigError as exc:
            return _Outcome(error=str(exc)[:200], permanent=True)

    async def _attempt_staff(self, job: _Job, sender: Sender, address: str) -> _Outcome:
        """A notification to staff: whoever the participant is, and whatever they opted out of."""
        try:
            await self._limiters.get(job.channel, self._default_limiter).acquire(job.channel)
            return _Outcome(platform_id=await sender.send(address, Outbound(job.text)))
        except RetryableDelivery as exc:
            return _Outcome(error=str(exc)[:200], retry_after=exc.retry_after)
        except (PermanentDelivery, ConfigError) as exc:
            return _Outcome(error=str(exc)[:200], permanent=True)

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

    async def _settle(self, outcomes: list[tuple[_Job, _Outcome]]) -> None:
        """Record every outcome of a pass in one transaction."""
        now = self._clock()
        async with self._sessions.begin() as session:
            rows = await session.scalars(
                select(OutboxItem).where(OutboxItem.id.in_([j.item_id for j, _ in outcomes]))
            )
            items = {item.id: item for item in rows}
            for job, outcome in outcomes:
                item = items.get(job.item_id)
                if item is None:  # erased meanwhile
                    continue
                item.attempts += 1
                if outcome.error is None:
                    item.status, item.sent_at, item.platform_message_id = (
                        "sent",
                        now,
                        outcome.platform_id,
                    )
                elif outcome.permanent or item.attempts >= self._max_attempts:
                    item.status, item.last_error = "failed", outcome.error
                    log.warning("outbox item %s failed for good: %s", job.item_id, outcome.error)
                else:
                    item.status, item.last_error = "pending", outcome.error
                    item.next_attempt_at = now + outbox.backoff(
                        item.attempts, outcome.retry_after, self._jitter()
                    )
                if outcome.refused:
                    participant = await session.get(Participant, job.participant_id)
                    if participant is not None:
                        participant.unreachable_at = participant.unreachable_at or now
                        if (
                            outcome.unsubscribed
                        ):  # they texted STOP to the carrier: nothing more, ever
                            participant.opted_out_at = participant.opted_out_at or now
                if job.kind in outbox.ALWAYS_DELIVERED and item.status in ("sent", "failed"):
                    # Erasing them? Once they have been told (or cannot be), and staff have had
                    # any alert about them, forget them entirely.
                    await erasure.forget_when_all_sent(session, job.participant_id)


@dataclass(frozen=True)
class _Job:
    """What one send needs, read in the claiming transaction."""

    item_id: int
    participant_id: int
    channel: str
    kind: str
    text: str
    choices: tuple[str, ...]
    participant: Participant | None
    sealed: bytes | None
    uncertain: bool = False  # a previous attempt may have been delivered
    created_at: datetime | None = None


@dataclass(frozen=True)
class _Outcome:
    platform_id: str | None = None
    error: str | None = None
    permanent: bool = False
    retry_after: float | None = None
    refused: bool = False  # the platform said this participant cannot be reached
    unsubscribed: bool = False  # ... because they opted out of our messages
