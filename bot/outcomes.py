""" "You said, we did": outcomes staff send back to the parents of an engagement.

An outcome answers one engagement (a flow, optionally the conversations started in a date range)
and optionally some of the seven themes. At its due time (its send time moved out of quiet hours)
it is enqueued: one outbox row per recipient, in one transaction with the outcome's change to
``enqueued``, so it happens once whatever fires it how often. Recipients are worked out then, not
when it was created: a parent who said STOP in between gets nothing.

The CLI (``parentvoice outcomes``) and the staff web view use these functions; none of them
commits (the caller owns the transaction), and none sends anything (the outbox sender does).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import ParentVoiceError
from bot.quiet_hours import QuietHours
from bot.segments import segments
from flows.spec import THEMES, FlowSet
from storage.db import as_utc
from storage.models import (
    Answer,
    Contact,
    Conversation,
    OutboxItem,
    Outcome,
    OutcomeDelivery,
    OutcomeReply,
    Participant,
)

MAX_CHARS = 612  # four GSM-7 SMS segments; an outcome is a short note, not a newsletter
REPLY_WINDOW = timedelta(days=7)  # a message this soon after an outcome is a reply to it
OUTBOX_KIND = "outcome"


class OutcomeError(ParentVoiceError):
    """Staff asked for something that cannot be done; the message says what to change."""


@dataclass(frozen=True)
class TextCheck:
    """One language's text, measured as flow texts are."""

    language: str
    characters: int
    segments: int
    encoding: str


def check_texts(
    texts: dict[str, str], flow_set: FlowSet, flow_id: str, default_language: str
) -> list[TextCheck]:
    """Validate an outcome's texts for ``flow_id``; raise ``OutcomeError`` naming what is wrong."""
    flow = flow_set.flows.get(flow_id)
    if flow is None:
        known = ", ".join(sorted(flow_set.flows)) or "none"
        raise OutcomeError(f"unknown flow {flow_id!r} (known: {known})")
    if not texts:
        raise OutcomeError("an outcome needs a message")
    checks = []
    for language, text in texts.items():
        if language not in flow.languages:
            raise OutcomeError(
                f"language {language!r} is not one of flow {flow_id!r}'s: "
                f"{', '.join(flow.languages)}"
            )
        if not text.strip():
            raise OutcomeError(f"the {language} message is empty")
        if len(text) > MAX_CHARS:
            raise OutcomeError(
                f"the {language} message has {len(text)} characters; keep it to {MAX_CHARS} "
                "(four SMS segments)"
            )
        count, encoding = segments(text)
        checks.append(TextCheck(language, len(text), count, encoding))
    if default_language not in texts:
        raise OutcomeError(
            f"a {default_language} message is needed: parents whose language has no text get it"
        )
    return checks


async def create(
    session: AsyncSession,
    *,
    flow_set: FlowSet,
    flow_id: str,
    texts: dict[str, str],
    send_at: datetime,
    quiet: QuietHours,
    now: datetime,
    default_language: str,
    themes: tuple[str, ...] = (),
    engaged_from: datetime | None = None,
    engaged_to: datetime | None = None,
    created_by: str = "cli",
) -> tuple[Outcome, list[TextCheck]]:
    """A new scheduled outcome (not yet committed), and its texts measured."""
    checks = check_texts(texts, flow_set, flow_id, default_language)
    unknown = [t for t in themes if t not in THEMES]
    if unknown:
        raise OutcomeError(f"unknown theme {', '.join(unknown)} (known: {', '.join(THEMES)})")
    if send_at.tzinfo is None:
        raise OutcomeError("the send time needs a time zone")
    if send_at < now - timedelta(minutes=1):
        raise OutcomeError(f"the send time {send_at.isoformat()} is in the past")
    if engaged_from and engaged_to and engaged_from >= engaged_to:
        raise OutcomeError("the engagement's start date must be before its end date")
    outcome = Outcome(
        flow_id=flow_id,
        engaged_from=engaged_from,
        engaged_to=engaged_to,
        themes=list(themes) or None,
        texts={k: v.strip() for k, v in texts.items()},
        send_at=send_at.astimezone(UTC),
        due_at=quiet.next_allowed(send_at),
        status="scheduled",
        created_by=created_by,
        created_at=now,
    )
    session.add(outcome)
    await session.flush()
    return outcome, checks


async def get(session: AsyncSession, outcome_id: int) -> Outcome:
    outcome = await session.get(Outcome, outcome_id)
    if outcome is None:
        raise OutcomeError(f"no outcome {outcome_id}")
    return outcome


async def all_outcomes(session: AsyncSession) -> list[Outcome]:
    """Every outcome, newest first."""
    return list(await session.scalars(select(Outcome).order_by(Outcome.id.desc())))


async def cancel(session: AsyncSession, outcome_id: int, now: datetime) -> Outcome:
    """Cancel an outcome that has not gone out yet."""
    outcome = await get(session, outcome_id)
    if outcome.status != "scheduled":
        raise OutcomeError(
            f"outcome {outcome_id} is {outcome.status}; only a scheduled one can be cancelled"
        )
    outcome.status, outcome.cancelled_at = "cancelled", now
    return outcome


async def scheduled(session: AsyncSession) -> dict[int, datetime]:
    """Outcomes still to send: ``{id: due at}`` (what the timer must hold)."""
    rows = await session.execute(
        select(Outcome.id, Outcome.due_at).where(Outcome.status == "scheduled")
    )
    return {outcome_id: as_utc(due_at) for outcome_id, due_at in rows}


async def recipients(session: AsyncSession, outcome: Outcome) -> list[tuple[int, str, str]]:
    """``(participant id, channel, language)`` of everyone this outcome should reach now: took
    part in its engagement, agreed to follow-up, not opted out, not erased, still reachable, with
    an address in the vault; with themes, only those whose answers were coded to one of them."""
    took_part = [
        Conversation.participant_id == Participant.id,
        Conversation.flow_id == outcome.flow_id,
        Conversation.consented_at.is_not(None),
    ]
    if outcome.engaged_from is not None:
        took_part.append(Conversation.started_at >= outcome.engaged_from)
    if outcome.engaged_to is not None:
        took_part.append(Conversation.started_at < outcome.engaged_to)
    query = select(Participant.id, Participant.channel, Participant.language).where(
        Participant.consent_followup.is_(True),
        Participant.opted_out_at.is_(None),
        Participant.erase_requested_at.is_(None),
        Participant.erase_asked_at.is_(None),
        Participant.unreachable_at.is_(None),
        exists().where(Contact.participant_id == Participant.id),
        exists().where(*took_part),
    )
    people = [(pid, channel, language) for pid, channel, language in await session.execute(query)]
    if not outcome.themes:
        return people
    wanted = set(outcome.themes)
    coded = (
        select(Answer.participant_id, Answer.themes)
        .join(Conversation, Conversation.id == Answer.conversation_id)
        .where(*took_part[1:], Answer.themes.is_not(None))
    )
    raised = {
        pid
        for pid, themes in await session.execute(coded)
        if any(isinstance(t, list) and t and t[0] in wanted for t in themes or [])
    }
    return [person for person in people if person[0] in raised]


@dataclass(frozen=True)
class Enqueued:
    """What one firing did: ``enqueued`` (``count`` rows written), ``deferred`` (quiet hours:
    due again at ``due_at``) or ``skipped`` (already enqueued, or cancelled)."""

    status: str
    count: int = 0
    due_at: datetime | None = None


async def enqueue(
    session: AsyncSession, outcome_id: int, now: datetime, quiet: QuietHours, default_language: str
) -> Enqueued:
    """Write one outbox row per recipient, once. Safe to call any number of times."""
    outcome = await session.get(Outcome, outcome_id)
    if outcome is None or outcome.status != "scheduled":
        return Enqueued("skipped")
    if quiet.contains(now):  # fired late (the app was down) into quiet hours: wait for morning
        outcome.due_at = quiet.next_allowed(now)
        return Enqueued("deferred", due_at=outcome.due_at)
    # The claim: only the first firing changes the status; a second (a double fire, another
    # process) changes nothing and writes nothing. On PostgreSQL the second waits for the first
    # to commit and then finds the status changed.
    claimed = await session.execute(
        update(Outcome)
        .where(Outcome.id == outcome_id, Outcome.status == "scheduled")
        .values(status="enqueued", enqueued_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return Enqueued("skipped")
    people = await recipients(session, outcome)
    if not people:
        return Enqueued("enqueued", 0)
    texts: dict[str, Any] = outcome.texts
    rows = [
        {
            "participant_id": pid,
            "channel": channel,
            "kind": OUTBOX_KIND,
            "text": texts.get(language) or texts[default_language],
            "choices": [],
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for pid, channel, language in people
    ]
    ids = await session.execute(
        insert(OutboxItem).returning(OutboxItem.id, OutboxItem.participant_id), rows
    )
    outbox_ids = dict((pid, oid) for oid, pid in ids)
    languages = {pid: language for pid, _channel, language in people}
    await session.execute(
        insert(OutcomeDelivery),
        [
            {
                "outcome_id": outcome_id,
                "participant_id": pid,
                "outbox_id": oid,
                "language": languages[pid] if languages[pid] in texts else default_language,
                "created_at": now,
            }
            for pid, oid in outbox_ids.items()
        ],
    )
    return Enqueued("enqueued", len(rows))


@dataclass(frozen=True)
class Report:
    """How an outcome went. ``delivered`` counts only what the platform confirmed (SMS and
    WhatsApp report it; Telegram does not, so there "sent" is all we know)."""

    outcome: Outcome
    recipients: int = 0
    pending: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    dropped: int = 0  # removed before sending (the parent said STOP first)
    opted_out_since: int = 0
    replies: int = 0
    repliers: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)


async def report(session: AsyncSession, outcome_id: int) -> Report:
    """The delivery report of one outcome."""
    outcome = await get(session, outcome_id)
    rows = await session.execute(
        select(
            OutboxItem.status,
            OutboxItem.delivery_status,
            OutboxItem.channel,
            Participant.opted_out_at,
        )
        .select_from(OutcomeDelivery)
        .join(Participant, Participant.id == OutcomeDelivery.participant_id)
        .outerjoin(OutboxItem, OutboxItem.id == OutcomeDelivery.outbox_id)
        .where(OutcomeDelivery.outcome_id == outcome_id)
    )
    counts: Counter[str] = Counter()
    channels: Counter[str] = Counter()
    since = as_utc(outcome.enqueued_at) if outcome.enqueued_at else None
    for status, delivery, channel, opted_out_at in rows:
        counts["recipients"] += 1
        if status is None:
            counts["dropped"] += 1
        else:
            channels[channel] += 1
            if status == "failed" or delivery in ("failed", "undelivered"):
                counts["failed"] += 1
            elif status == "sent":
                counts["sent"] += 1
                if delivery in ("delivered", "read"):
                    counts["delivered"] += 1
            else:
                counts["pending"] += 1
        if since is not None and opted_out_at is not None and as_utc(opted_out_at) >= since:
            counts["opted_out_since"] += 1
    replies, repliers = (
        await session.execute(
            select(
                func.count(OutcomeReply.id), func.count(func.distinct(OutcomeReply.participant_id))
            ).where(OutcomeReply.outcome_id == outcome_id)
        )
    ).one()
    return Report(
        outcome=outcome,
        recipients=counts["recipients"],
        pending=counts["pending"],
        sent=counts["sent"],
        delivered=counts["delivered"],
        failed=counts["failed"],
        dropped=counts["dropped"],
        opted_out_since=counts["opted_out_since"],
        replies=int(replies),
        repliers=int(repliers),
        by_channel=dict(channels),
    )


async def replying_to(
    session: AsyncSession, participant_id: int, now: datetime, after: datetime | None
) -> int | None:
    """The outcome a message from this participant answers, if one was sent to them in the last
    ``REPLY_WINDOW`` and after ``after`` (the end of their last conversation)."""
    query = (
        select(OutcomeDelivery.outcome_id, OutboxItem.sent_at)
        .join(OutboxItem, OutboxItem.id == OutcomeDelivery.outbox_id)
        .where(
            OutcomeDelivery.participant_id == participant_id,
            OutboxItem.status == "sent",
            OutboxItem.sent_at >= now - REPLY_WINDOW,
        )
        .order_by(OutboxItem.sent_at.desc())
        .limit(1)
    )
    row = (await session.execute(query)).first()
    if row is None:
        return None
    outcome_id, sent_at = row
    if after is not None and as_utc(sent_at) < as_utc(after):
        return None
    return int(outcome_id)


async def record_reply(
    session: AsyncSession,
    *,
    outcome_id: int,
    participant_id: int,
    text: str,
    coding: Any,
    now: datetime,
) -> bool:
    """Keep a reply to an outcome as feedback; True if it is this parent's first to it."""
    earlier = await session.scalar(
        select(func.count(OutcomeReply.id)).where(
            OutcomeReply.outcome_id == outcome_id, OutcomeReply.participant_id == participant_id
        )
    )
    session.add(
        OutcomeReply(
            outcome_id=outcome_id,
            participant_id=participant_id,
            text=text,
            themes=[[t, c] for t, c in coding.themes] if coding is not None else None,
            sentiment=coding.sentiment if coding is not None else None,
            received_at=now,
        )
    )
    return not earlier
