"""What the staff pages show, computed from stored (redacted) data. Read-only.

Times are shown in ``zone`` (schedule.timezone): "outside Mon–Fri 9–5" is about the parent's
local day, not UTC. Only conversations a parent agreed to take part in are counted or shown.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.spec import THEMES, FlowSet
from storage.db import as_utc
from storage.models import Answer, Conversation, Message, Participant, SafeguardingAlert

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SENTIMENTS = ("positive", "mixed", "neutral", "negative")
SMALL = 5  # in tables meant for publication, counts below this are shown as "<5"


def office_hours(moment: datetime) -> bool:
    """Mon–Fri 09:00–16:59 local: when services usually ask parents."""
    return moment.weekday() < 5 and 9 <= moment.hour < 17


@dataclass
class Overview:
    conversations: int = 0
    completed: int = 0
    outside_office: int = 0
    per_day: list[tuple[date, int]] = field(default_factory=list)
    heat: list[list[int]] = field(default_factory=lambda: [[0] * 24 for _ in range(7)])
    channels: Counter[str] = field(default_factory=Counter)
    languages: Counter[str] = field(default_factory=Counter)
    who: Counter[str] = field(default_factory=Counter)
    drop_off: list[tuple[str, int]] = field(default_factory=list)

    @property
    def outside_share(self) -> float:
        return self.outside_office / self.conversations if self.conversations else 0.0

    @property
    def completion_rate(self) -> float:
        return self.completed / self.conversations if self.conversations else 0.0


def _consented() -> Select[Any]:
    return select(Conversation).where(Conversation.consented_at.is_not(None))


async def overview(
    session: AsyncSession, flows: FlowSet, zone: ZoneInfo, today: date, days: int = 30
) -> Overview:
    """Participation: when, where, in which language, who; completion and drop-off."""
    result = Overview()
    per_day: Counter[date] = Counter()
    dropped: Counter[str] = Counter()
    for conversation in await session.scalars(_consented()):
        local = as_utc(conversation.started_at).astimezone(zone)
        result.conversations += 1
        result.completed += conversation.status == "completed"
        result.outside_office += not office_hours(local)
        result.heat[local.weekday()][local.hour] += 1
        result.channels[conversation.channel] += 1
        result.languages[conversation.language] += 1
        per_day[local.date()] += 1
        if conversation.status != "completed" and conversation.current_question:
            dropped[conversation.current_question] += 1
    result.per_day = [
        (d, per_day[d]) for d in (today - timedelta(days=n) for n in range(days - 1, -1, -1))
    ]
    who = await session.execute(
        select(Answer.value, func.count()).where(Answer.question_id == "who").group_by(Answer.value)
    )
    result.who.update({value: int(count) for value, count in who})
    order = [q.id for flow in flows.flows.values() for q in flow.questions]
    result.drop_off = sorted(
        dropped.items(), key=lambda item: order.index(item[0]) if item[0] in order else 99
    )
    return result


@dataclass
class ThemeSummary:
    theme: str
    count: int = 0
    sentiments: Counter[str] = field(default_factory=Counter)
    by_week: Counter[date] = field(default_factory=Counter)
    quotes: list[str] = field(default_factory=list)


async def themes(session: AsyncSession, zone: ZoneInfo, quotes: int = 3) -> list[ThemeSummary]:
    """Per theme: how many answers raised it, their sentiment, weekly trend, example quotes."""
    summaries = {theme: ThemeSummary(theme) for theme in THEMES}
    rows = await session.execute(
        select(Answer.value, Answer.themes, Answer.sentiment, Answer.created_at)
        .join(Conversation, Conversation.id == Answer.conversation_id)
        .where(Conversation.consented_at.is_not(None), Answer.themes.is_not(None))
        .order_by(Answer.created_at.desc())
    )
    for value, coded, sentiment, created_at in rows:
        week = as_utc(created_at).astimezone(zone).date()
        week -= timedelta(days=week.weekday())
        for item in coded or []:
            summary = summaries.get(item[0]) if isinstance(item, list) and item else None
            if summary is None:
                continue
            summary.count += 1
            summary.sentiments[sentiment or "neutral"] += 1
            summary.by_week[week] += 1
            if len(summary.quotes) < quotes:
                summary.quotes.append(value)
    return list(summaries.values())


@dataclass(frozen=True)
class TranscriptFilter:
    flow: str | None = None
    since: date | None = None
    until: date | None = None
    theme: str | None = None
    channel: str | None = None
    sentiment: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items() if v}


async def transcripts(
    session: AsyncSession, flt: TranscriptFilter, zone: ZoneInfo, limit: int = 200
) -> list[Conversation]:
    """Consented conversations matching ``flt``, newest first."""
    query = _consented().order_by(Conversation.started_at.desc())
    if flt.flow:
        query = query.where(Conversation.flow_id == flt.flow)
    if flt.channel:
        query = query.where(Conversation.channel == flt.channel)
    if flt.since:
        query = query.where(Conversation.started_at >= _local_midnight(flt.since, zone))
    if flt.until:
        query = query.where(
            Conversation.started_at < _local_midnight(flt.until + timedelta(days=1), zone)
        )
    if flt.sentiment:
        query = query.where(
            select(Answer.id)
            .where(Answer.conversation_id == Conversation.id, Answer.sentiment == flt.sentiment)
            .exists()
        )
    found = list(await session.scalars(query.limit(limit if not flt.theme else limit * 10)))
    if flt.theme:  # themes are JSON: filtered here, the same way on SQLite and PostgreSQL
        coded: defaultdict[int, set[str]] = defaultdict(set)
        for conversation_id, values in await session.execute(
            select(Answer.conversation_id, Answer.themes).where(
                Answer.conversation_id.in_([c.id for c in found]), Answer.themes.is_not(None)
            )
        ):
            coded[conversation_id].update(v[0] for v in values or [] if isinstance(v, list) and v)
        found = [c for c in found if flt.theme in coded[c.id]][:limit]
    return found


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


async def transcript(
    session: AsyncSession, public_id: str
) -> tuple[Conversation, list[Message], list[Answer]] | None:
    conversation = await session.scalar(_consented().where(Conversation.public_id == public_id))
    if conversation is None:
        return None
    messages = list(
        await session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation.id)
            .order_by(Message.created_at, Message.id)
        )
    )
    answers = list(
        await session.scalars(select(Answer).where(Answer.conversation_id == conversation.id))
    )
    return conversation, messages, answers


async def alerts(
    session: AsyncSession, open_only: bool = False
) -> list[tuple[SafeguardingAlert, str]]:
    """Alerts, newest first, each with the start of the parent's pseudonym (what staff quote)."""
    query = (
        select(SafeguardingAlert, Participant.pseudonym)
        .join(Participant, Participant.id == SafeguardingAlert.participant_id)
        .order_by(SafeguardingAlert.created_at.desc())
    )
    if open_only:
        query = query.where(SafeguardingAlert.acknowledged_at.is_(None))
    return [(alert, who[:12]) for alert, who in (await session.execute(query.limit(500))).tuples()]


def suppress(count: int, on: bool) -> str | int:
    """A count as published: below ``SMALL`` it becomes "<5" when suppression is on."""
    return f"<{SMALL}" if on and 0 < count < SMALL else count
