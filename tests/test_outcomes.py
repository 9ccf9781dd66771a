"""Outcomes ("you said, we did"), quiet hours and the durable timer, against real SQLite and
PostgreSQL. The whole path through the app (restarts, STOP, the CLI) is in test_outcomes_e2e."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import outcomes, reminders
from bot.outcomes import OutcomeError
from bot.quiet_hours import QuietHours
from bot.schedule import Scheduler
from bot.vault import Vault
from flows.spec import load_flows
from storage.db import make_engine, make_sessionmaker
from storage.models import (
    Answer,
    Contact,
    Conversation,
    OutboxItem,
    Outcome,
    OutcomeDelivery,
    Participant,
)
from tests.databases import migrated_database
from tests.harness import ROOT

VAULT = Vault(b"ZGV2LW9ubHktdmF1bHQta2V5LWNoYW5nZS1tZS0wMDA=")
FLOWS = load_flows(ROOT / "flows")
LONDON = ZoneInfo("Europe/London")
QUIET = QuietHours.parse("21:00-08:00", "Europe/London")
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # a Tuesday; London is on GMT until 29 March


# -- quiet hours ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2026-03-10 20:59", "2026-03-10 20:59"),  # before they start: as asked
        ("2026-03-10 21:00", "2026-03-11 08:00"),
        ("2026-03-10 22:30", "2026-03-11 08:00"),
        ("2026-03-11 03:00", "2026-03-11 08:00"),  # after midnight: the same morning
        ("2026-03-11 08:00", "2026-03-11 08:00"),
        # The clocks go forward on 29 March: 08:00 BST is 07:00 UTC.
        ("2026-03-28 23:00", "2026-03-29 08:00"),
        # ... and back on 25 October.
        ("2026-10-25 01:30", "2026-10-25 08:00"),
    ],
)
def test_a_send_inside_quiet_hours_waits_for_the_end_of_them(local: str, expected: str) -> None:
    moment = datetime.fromisoformat(local).replace(tzinfo=LONDON)
    allowed = QUIET.next_allowed(moment)
    assert allowed.tzinfo == UTC
    assert allowed.astimezone(LONDON).replace(tzinfo=None) == datetime.fromisoformat(expected)


def test_quiet_hours_within_a_day_off_and_bad_values() -> None:
    lunch = QuietHours.parse("12:00-14:00", "Europe/London")
    assert lunch.contains(datetime(2026, 1, 5, 12, 30, tzinfo=UTC))
    assert not lunch.contains(datetime(2026, 1, 5, 14, 0, tzinfo=UTC))
    assert lunch.next_allowed(datetime(2026, 1, 5, 13, tzinfo=UTC)) == datetime(
        2026, 1, 5, 14, tzinfo=UTC
    )
    off = QuietHours.parse("", "Europe/London")
    assert off.start is None and not off.contains(datetime(2026, 1, 5, 3, tzinfo=UTC))
    assert off.describe() == "none"
    assert QUIET.start == time(21) and QUIET.describe() == "21:00-08:00 Europe/London"
    for bad, message in [
        (("9pm-8am", "Europe/London"), "not a time"),
        (("21:00", "Europe/London"), "must look like"),
        (("08:00-08:00", "Europe/London"), "the same"),
        (("21:00-08:00", "Mars/Olympus"), "unknown time zone"),
    ]:
        with pytest.raises(ValueError, match=message):
            QuietHours.parse(*bad)


# -- the database -----------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with migrated_database(request.param, tmp_path, "outcomes") as url:
        yield url


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def add_parent(
    session: AsyncSession,
    *,
    followup: bool | None = True,
    consented: bool = True,
    flow_id: str = "hcp_experience",
    started: datetime = NOW - timedelta(days=3),
    themes: list[str] | None = None,
    channel: str = "telegram",
    language: str = "en",
    contact: bool = True,
    **state: datetime,
) -> int:
    """A synthetic parent who took part in one conversation; ``state`` sets opted_out_at etc."""
    participant = Participant(
        pseudonym=uuid.uuid4().hex * 2,
        channel=channel,
        language=language,
        created_at=started,
        redaction_state={},
        consent_followup=followup,
        **state,
    )
    if contact:
        participant.contact = Contact(address_encrypted=VAULT.seal("700000001"), created_at=started)
    session.add(participant)
    await session.flush()
    conversation = Conversation(
        public_id=uuid.uuid4().hex[:16],
        participant_id=participant.id,
        flow_id=flow_id,
        flow_version=1,
        channel=channel,
        language=language,
        status="completed",
        consented_at=started if consented else None,
        started_at=started,
        updated_at=started,
        ended_at=started + timedelta(minutes=5),
    )
    session.add(conversation)
    await session.flush()
    if themes is not None:
        session.add(
            Answer(
                conversation_id=conversation.id,
                participant_id=participant.id,
                question_id="could_be_better",
                value="synthetic answer",
                created_at=started,
                themes=[[t, 0.9] for t in themes],
            )
        )
    return participant.id


async def new_outcome(
    session: AsyncSession, send_at: datetime = NOW + timedelta(hours=1), **options: object
) -> Outcome:
    outcome, _checks = await outcomes.create(
        session,
        flow_set=FLOWS,
        flow_id=str(options.pop("flow_id", "hcp_experience")),
        texts=dict(
            options.pop("texts", {"en": "You said the wait was too long. We did: evening clinics."})
        ),  # type: ignore[call-overload]
        send_at=send_at,
        quiet=QUIET,
        now=NOW,
        default_language="en",
        **options,  # type: ignore[arg-type]
    )
    return outcome


async def test_recipients_are_the_consenting_reachable_parents_of_that_engagement(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        yes = await add_parent(session)
        sms = await add_parent(session, channel="sms")
        waiting = await add_parent(session, themes=["timely_support"])
        other = await add_parent(session, themes=["signposting"])
        # everyone below must be left out
        await add_parent(session, followup=False)
        await add_parent(session, followup=None)  # never answered the follow-up question
        await add_parent(session, consented=False)
        await add_parent(session, flow_id="another_flow")
        await add_parent(session, opted_out_at=NOW - timedelta(days=1))
        await add_parent(session, erase_requested_at=NOW - timedelta(days=1))
        await add_parent(session, erase_asked_at=NOW - timedelta(hours=1))
        await add_parent(session, unreachable_at=NOW - timedelta(days=1))
        await add_parent(session, contact=False)
        every = await new_outcome(session)
        themed = await new_outcome(session, themes=("timely_support",))
        ranged = await new_outcome(
            session, engaged_from=NOW - timedelta(days=1), engaged_to=NOW + timedelta(days=1)
        )
        assert sorted(p for p, _, _ in await outcomes.recipients(session, every)) == sorted(
            [yes, sms, waiting, other]
        )
        assert [p for p, _, _ in await outcomes.recipients(session, themed)] == [waiting]
        assert await outcomes.recipients(session, ranged) == []  # they took part 3 days ago


async def test_enqueue_writes_one_row_per_recipient_once_however_often_it_fires(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        people = [await add_parent(session) for _ in range(5)]
        polish = await add_parent(session, language="pl")
        outcome = await new_outcome(session)
    fire_at = NOW + timedelta(hours=1)

    async def fire() -> outcomes.Enqueued:
        async with sessions.begin() as session:
            return await outcomes.enqueue(session, outcome.id, fire_at, QUIET, "en")

    # A double fire at the same moment (two processes, or a retry racing the first run).
    results = await asyncio.gather(fire(), fire(), return_exceptions=True)
    statuses = sorted(r.status for r in results if isinstance(r, outcomes.Enqueued))
    assert statuses == ["enqueued", "skipped"], results
    assert (await fire()).status == "skipped"  # and again after a restart
    async with sessions() as session:
        rows = list(await session.scalars(select(OutboxItem).where(OutboxItem.kind == "outcome")))
        deliveries = await session.scalar(select(func.count(OutcomeDelivery.id)))
        stored = await session.get(Outcome, outcome.id)
    assert sorted(r.participant_id for r in rows) == sorted([*people, polish])
    assert deliveries == 6 and stored is not None and stored.status == "enqueued"
    # no Polish text: the Polish parent gets the English one rather than nothing
    assert {r.text for r in rows} == {outcome.texts["en"]}


async def test_a_late_fire_inside_quiet_hours_waits_and_a_cancelled_one_never_goes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        await add_parent(session)
        late = await new_outcome(session)
        cancelled = await new_outcome(session)
        await outcomes.cancel(session, cancelled.id, NOW)
    night = datetime(2026, 3, 10, 23, 15, tzinfo=UTC)
    async with sessions.begin() as session:
        deferred = await outcomes.enqueue(session, late.id, night, QUIET, "en")
        skipped = await outcomes.enqueue(
            session, cancelled.id, night + timedelta(hours=9), QUIET, "en"
        )
    assert deferred.status == "deferred"
    assert deferred.due_at == datetime(2026, 3, 11, 8, 0, tzinfo=UTC)
    assert skipped.status == "skipped"
    async with sessions() as session:
        assert await session.scalar(select(func.count(OutboxItem.id))) == 0
        assert await outcomes.scheduled(session) == {late.id: deferred.due_at}
    async with sessions.begin() as session:
        with pytest.raises(OutcomeError, match="only a scheduled one"):
            await outcomes.cancel(session, cancelled.id, NOW)


async def test_staff_mistakes_get_clear_errors(sessions: async_sessionmaker[AsyncSession]) -> None:
    cases: list[tuple[dict[str, object], str]] = [
        ({"flow_id": "nope"}, "unknown flow 'nope' \\(known: hcp_experience\\)"),
        ({"texts": {}}, "needs a message"),
        ({"texts": {"en": "  "}}, "the en message is empty"),
        ({"texts": {"en": "x" * 700}}, "700 characters; keep it to 612"),
        ({"texts": {"xx": "hello"}}, "language 'xx' is not one of"),
        ({"themes": ("waiting_times",)}, "unknown theme waiting_times"),
        ({"send_at": NOW - timedelta(hours=2)}, "is in the past"),
        ({"send_at": datetime(2026, 3, 11, 9, 0)}, "needs a time zone"),
        (
            {"engaged_from": NOW, "engaged_to": NOW - timedelta(days=1)},
            "start date must be before",
        ),
    ]
    for options, message in cases:
        async with sessions() as session:
            with pytest.raises(OutcomeError, match=message):
                await new_outcome(session, **options)  # type: ignore[arg-type]
    async with sessions() as session:
        with pytest.raises(OutcomeError, match="no outcome 999"):
            await outcomes.report(session, 999)


async def test_a_send_time_in_quiet_hours_is_due_the_next_morning(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        outcome, checks = await outcomes.create(
            session,
            flow_set=FLOWS,
            flow_id="hcp_experience",
            texts={"en": "Thank you. Because of what you said, the clinic now opens on Saturdays."},
            send_at=datetime(2026, 3, 10, 22, 30, tzinfo=LONDON),
            quiet=QUIET,
            now=NOW,
            default_language="en",
        )
    assert outcome.due_at == datetime(2026, 3, 11, 8, 0, tzinfo=UTC)
    assert [(c.language, c.segments, c.encoding) for c in checks] == [("en", 1, "GSM-7")]


async def test_delivery_report_counts_each_fate(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        people = [await add_parent(session) for _ in range(5)]
        outcome = await new_outcome(session)
    fire_at = NOW + timedelta(hours=1)
    async with sessions.begin() as session:
        await outcomes.enqueue(session, outcome.id, fire_at, QUIET, "en")
        rows = {
            r.participant_id: r
            for r in await session.scalars(select(OutboxItem).where(OutboxItem.kind == "outcome"))
        }
        rows[people[0]].status, rows[people[0]].sent_at = "sent", fire_at
        rows[people[1]].status, rows[people[1]].delivery_status = "sent", "delivered"
        rows[people[1]].sent_at = fire_at
        rows[people[2]].status = "failed"
        await session.delete(rows[people[3]])  # dropped: they said STOP before it went
        participant = await session.get(Participant, people[3])
        assert participant is not None
        participant.opted_out_at = fire_at + timedelta(minutes=5)
    async with sessions.begin() as session:
        assert await outcomes.replying_to(session, people[0], fire_at, None) == outcome.id
        assert await outcomes.replying_to(session, people[4], fire_at, None) is None  # not sent
        for text in ("brilliant, thank you", "and the new times suit us"):
            await outcomes.record_reply(
                session,
                outcome_id=outcome.id,
                participant_id=people[0],
                text=text,
                coding=None,
                now=fire_at,
            )
    async with sessions() as session:
        report = await outcomes.report(session, outcome.id)
        # a week later, a message is no longer taken as a reply to it
        assert (
            await outcomes.replying_to(session, people[0], fire_at + timedelta(days=8), None)
            is None
        )
    assert (report.recipients, report.sent, report.delivered, report.failed) == (5, 2, 1, 1)
    assert (report.pending, report.dropped, report.opted_out_since) == (1, 1, 1)
    assert (report.replies, report.repliers) == (2, 1)


async def test_one_reminder_after_the_delay_never_in_quiet_hours_only_to_consenting(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        quiet_since = NOW - timedelta(hours=21)
        ids = {}
        for name, state in {
            "paused": {"status": "paused"},
            "quiet": {"status": "active"},
            "recent": {"status": "active", "updated_at": NOW - timedelta(hours=2)},
            "no_consent": {"status": "active", "consented_at": None},
            "finished": {"status": "completed"},
        }.items():
            pid = await add_parent(session)
            conversation = await session.scalar(
                select(Conversation).where(Conversation.participant_id == pid)
            )
            assert conversation is not None
            conversation.status = str(state["status"])
            conversation.updated_at = state.get("updated_at", quiet_since)  # type: ignore[assignment]
            if "consented_at" in state:
                conversation.consented_at = None
            ids[name] = pid
        said_no = await add_parent(session, followup=False)
        stopped = await add_parent(session, opted_out_at=NOW - timedelta(hours=1))
        for pid in (said_no, stopped):
            conversation = await session.scalar(
                select(Conversation).where(Conversation.participant_id == pid)
            )
            assert conversation is not None
            conversation.status, conversation.updated_at = "active", quiet_since

    async def run(now: datetime) -> int:
        async with sessions.begin() as session:
            return await reminders.send_due(
                session,
                now=now,
                after=timedelta(hours=20),
                quiet=QUIET,
                text_for=lambda p, c: f"reminder for {c.status}",
            )

    assert await run(datetime(2026, 3, 10, 22, 0, tzinfo=UTC)) == 0  # quiet hours: nothing yet
    assert await run(NOW) == 2
    assert await run(NOW + timedelta(hours=30)) == 1  # only "recent" has become due since
    assert await run(NOW + timedelta(hours=60)) == 0  # at most one each
    async with sessions() as session:
        reminded = sorted(
            (r.participant_id, r.text)
            for r in await session.scalars(select(OutboxItem).where(OutboxItem.kind == "reminder"))
        )
    assert reminded == sorted(
        [
            (ids["paused"], "reminder for paused"),
            (ids["quiet"], "reminder for active"),
            (ids["recent"], "reminder for active"),
        ]
    )


# -- the durable timer ------------------------------------------------------------------------


class MovableClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


async def test_a_job_fires_at_its_time_by_the_injected_clock_after_two_restarts(
    db_url: str,
) -> None:
    clock = MovableClock(datetime(2026, 3, 10, 15, 0, tzinfo=UTC))
    fired: list[tuple[int, datetime]] = []

    async def runner(outcome_id: int) -> None:
        fired.append((outcome_id, clock()))

    async def settle() -> None:
        for _ in range(20):  # the job pass and the job itself run on the loop, soon after
            await asyncio.sleep(0.01)

    due = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)
    scheduler = Scheduler(db_url, clock, runner)
    scheduler.start()
    scheduler.reconcile({7: due})
    await settle()
    scheduler.shutdown()
    for moment in (
        datetime(2026, 3, 10, 20, 0, tzinfo=UTC),
        datetime(2026, 3, 11, 8, 59, tzinfo=UTC),
    ):
        clock.now = moment  # a restart at each: a new scheduler on the same job store
        scheduler = Scheduler(db_url, clock, runner)
        scheduler.start()
        assert scheduler.jobs() == {"outcome-7": due}
        scheduler.wakeup()
        await settle()
        assert fired == []
        scheduler.shutdown()
    scheduler = Scheduler(db_url, clock, runner)
    scheduler.start()
    clock.now = due
    scheduler.wakeup()
    await settle()
    assert fired == [(7, due)]
    assert scheduler.jobs() == {}  # done with: a second wakeup cannot fire it again
    scheduler.wakeup()
    await settle()
    assert fired == [(7, due)]
    # reconcile drops the jobs of outcomes no longer scheduled
    scheduler.reconcile({8: due + timedelta(days=1)})
    scheduler.reconcile({})
    assert scheduler.jobs() == {}
    scheduler.shutdown()


async def test_erasure_removes_what_outcomes_hold_about_a_parent(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from storage import erasure
    from storage.models import OutcomeReply

    async with sessions.begin() as session:
        leaving, staying = await add_parent(session), await add_parent(session)
        outcome = await new_outcome(session)
    async with sessions.begin() as session:
        await outcomes.enqueue(session, outcome.id, NOW + timedelta(hours=1), QUIET, "en")
        for pid in (leaving, staying):
            await outcomes.record_reply(
                session, outcome_id=outcome.id, participant_id=pid, text="thanks", coding=None,
                now=NOW + timedelta(hours=2),
            )  # fmt: skip
    async with sessions.begin() as session:
        participant = await session.get(Participant, leaving)
        assert participant is not None
        await erasure.erase_content(session, participant, NOW + timedelta(hours=3))
    async with sessions() as session:
        for model in (OutcomeDelivery, OutcomeReply):
            owners = list(await session.scalars(select(model.participant_id)))
            assert owners == [staying], model.__name__
        assert (await outcomes.report(session, outcome.id)).replies == 1
