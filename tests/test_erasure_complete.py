"""Erasure is complete: after "delete my data" nothing we keep refers to the parent, nothing is
ever sent to them again, and another parent's data is exactly as it was.

Parent A texts by SMS from a drama number and takes part fully: free-text answers with uncommon
words no one else uses (and their own number), a disclosure (signposting for them, an alert for
staff), consent to follow-up, a "you said, we did" outcome they answer, then a second
conversation left part-way (due a reminder) while a second outcome waits in the scheduler.
Parent B, on Telegram, does the same bar the disclosure. Then A asks to be erased, while Twilio is
briefly down: what they told us must go at once, and the rest once they have been told.

The database is read as it is, not as the models say: every table it has (reflected, so
``apscheduler_jobs`` and any table a later migration adds are included), every row, every column.
A table with a ``*participant_id`` column that this scenario never fills fails the test, so a new
kind of participant data cannot slip past it unproven. Everything is real: the app, Rasa, SQLite
and PostgreSQL, the twilio and python-telegram-bot SDKs against fakes on 127.0.0.1; time is the
harness's clock, moved by the test.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, MetaData, Table, inspect, select

from bot import outcomes, tracker_store
from bot.errors import ConfigError
from bot.vault import Vault
from storage.models import OutboxItem, Participant
from tests.conversation import Parent, new_chat_id
from tests.databases import migrated_database
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import FakeTwilioAPI, signed_form, status_params
from tests.harness import STAFF_CHAT_ID, Clock, RunningApp, free_port, make_config

# One uncommon word per thing each parent tells us, so any copy of what they said is found. Real
# words, not made-up ones: the redactor takes a word no English dictionary knows for a name, so a
# made-up word is never stored and finding none of it afterwards would prove nothing.
A_WORDS = {
    "went_well": "kumquat",
    "disclosure": "xylophone",
    "heard_about": "haberdashery",
    "outcome_reply": "platypus",
    "second_conversation": "zeppelin",
}
B_WORDS = {"went_well": "walrus", "outcome_reply": "marmalade", "second": "trombone"}
NEWS = "You said the wait was too long. We now run evening clinics."
LATER_NEWS = "You said, we did: the baby clinic now opens on Saturday mornings."
Key = tuple[Any, ...]


@pytest.fixture(params=["sqlite", "postgresql"])
async def erasure_app(
    request: pytest.FixtureRequest,
    session_dir: Path,
    rasa_server: str,
    rasa_token: str,
    actions_host: RunningApp,
    telegram_api: FakeTelegramAPI,
    twilio_api: FakeTwilioAPI,
) -> AsyncIterator[RunningApp]:
    """The app on its own new database of each kind, with its own clock (Tuesday noon, London on
    GMT), sharing the session's Rasa (so the tracker store is the session Rasa's)."""
    kind = request.param
    tmp = session_dir / f"erasure-{kind}-{free_port()}"  # beside the session Rasa's tracker store
    tmp.mkdir()
    async with migrated_database(kind, tmp, "erasure") as db_url:
        config = make_config(
            tmp,
            db_url=db_url,
            port=free_port(),
            rasa_url=rasa_server,
            rasa_token=rasa_token,
            telegram_api=telegram_api.base_url,
            pseudonym_key=f"test-pseudonym-key-erasure-{kind}-0123",
            twilio_api=twilio_api.base_url,
        )
        app = RunningApp(config, Clock(datetime(2026, 3, 10, 12, 0, tzinfo=UTC)))
        await app.start()
        try:
            yield app
        finally:
            await app.stop()


# -- the whole database, read generically ------------------------------------------------------


@dataclass(frozen=True)
class Database:
    """Every row of every table the database has, by primary key, and how tables refer to others."""

    columns: dict[str, list[str]]
    rows: dict[str, dict[Key, dict[str, Any]]]
    references: dict[str, list[tuple[tuple[str, ...], str, tuple[str, ...]]]]


def _read(conn: Connection) -> Database:
    inspector = inspect(conn)
    columns, rows, references = {}, {}, {}
    for name in inspector.get_table_names():
        table = Table(name, MetaData(), autoload_with=conn)
        columns[name] = [column.name for column in table.columns]
        key = inspector.get_pk_constraint(name)["constrained_columns"] or columns[name]
        rows[name] = {
            tuple(row[c] for c in key): dict(row) for row in conn.execute(select(table)).mappings()
        }
        references[name] = [
            (tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
            for fk in inspector.get_foreign_keys(name)
        ]
    return Database(columns, rows, references)


async def read_database(app: RunningApp) -> Database:
    async with app.runtime.pipeline._sessions() as session:
        return await session.run_sync(lambda sync: _read(sync.connection()))


def _is_participant_column(column: str) -> bool:
    return column == "participant_id" or column.endswith("_participant_id")


def rows_about(db: Database, participant_id: int) -> dict[str, set[Key]]:
    """The rows about one participant: their row, every row naming them in a ``*participant_id``
    column, and every row referring (by a foreign key, to any depth) to one of those."""
    about = {
        name: {
            key
            for key, row in rows.items()
            if any(_is_participant_column(c) and v == participant_id for c, v in row.items())
        }
        for name, rows in db.rows.items()
    }
    participants = Participant.__tablename__
    about[participants] |= {
        key for key, row in db.rows[participants].items() if row["id"] == participant_id
    }
    grew = True
    while grew:
        grew = False
        for name, rows in db.rows.items():
            for columns, target, target_columns in db.references[name]:
                theirs = {
                    tuple(db.rows[target][key][c] for c in target_columns) for key in about[target]
                }
                for key, row in rows.items():
                    if key not in about[name] and tuple(row[c] for c in columns) in theirs:
                        about[name].add(key)
                        grew = True
    return about


def _as_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")  # pickled job state keeps its strings readable
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def traces(
    db: Database, participant_id: int, needles: dict[str, str], vault: Vault, address: str
) -> list[str]:
    """Every ``table.column: what`` that still points at the participant: their id in a
    ``*participant_id`` column, any needle in any value, or a sealed value that opens to their
    address."""
    found = set()
    for name, rows in db.rows.items():
        for row in rows.values():
            for column, value in row.items():
                where = f"{name}.{column}"
                if _is_participant_column(column) and value == participant_id:
                    found.add(f"{where}: their participant id")
                if value is None:
                    continue
                text = _as_text(value).lower()
                found |= {f"{where}: {what}" for what, n in needles.items() if n.lower() in text}
                if isinstance(value, bytes) and _opens(vault, value) == address:
                    found.add(f"{where}: their sealed address")
    return sorted(found)


def _opens(vault: Vault, value: bytes) -> str | None:
    try:
        return vault.open(value)
    except (ConfigError, ValueError):
        return None


def address_forms(phone: str) -> dict[str, str]:
    """An E.164 UK mobile as people and systems write it."""
    local = phone.removeprefix("+44")
    national = "0" + local
    forms = [phone, phone[1:], national, f"{national[:5]} {national[5:]}",
             f"+44 {local[:4]} {local[4:]}", local]  # fmt: skip
    return {f"their address as {form!r}": form for form in forms}


def identifiers(db: Database, about: dict[str, set[Key]]) -> dict[str, str]:
    """Ids in the participant's rows that would link back to them if kept anywhere else:
    conversation public ids, platform message ids (Twilio SIDs), and the like."""
    found = {
        value
        for name, keys in about.items()
        for key in keys
        for column, value in db.rows[name][key].items()
        if column.endswith("id") and isinstance(value, str) and len(value) >= 12
        and any(c.isdigit() for c in value) and any(c.isalpha() for c in value)
    }  # fmt: skip
    return {f"their id {value!r}": value for value in found}


def redaction_digests(state: dict[str, Any]) -> dict[str, str]:
    """The keyed digests the redactor keeps of what a parent told us (their number, names)."""
    digests = [*state.get("values", {}), *state.get("names", {})]
    assert digests, "the redactor kept nothing to recognise them by"
    return {f"their redaction digest {d}": d for d in digests}


# -- Rasa's side ---------------------------------------------------------------------------------


def tracker_events(db: Path, sender_id: str) -> list[str]:
    """The stored events of one sender in Rasa's SQL tracker store, as JSON text."""
    with sqlite3.connect(db) as conn:
        return [
            r[0] for r in conn.execute("SELECT data FROM events WHERE sender_id = ?", (sender_id,))
        ]


async def rasa_tracker(app: RunningApp, sender_id: str) -> dict[str, Any]:
    """Rasa's own answer, over its HTTP API, for what it knows of a conversation."""
    async with httpx.AsyncClient(base_url=app.config.rasa.url, timeout=10) as rasa:
        got = await rasa.get(
            f"/conversations/{sender_id}/tracker",
            params={"token": app.config.rasa.token, "include_events": "ALL"},
        )
    assert got.status_code == 200, got.text
    tracker: dict[str, Any] = got.json()
    return tracker


# -- driving the parents -------------------------------------------------------------------------


async def say(parent: Parent, text: str, wanted: int = 1) -> list[str]:
    """Send one message; the replies once the app has finished with it (at least ``wanted``)."""
    before = len(parent.replies())
    response = await parent.say(text)
    assert response.status_code == 200, response.text
    got = await parent.settled_replies(before, wanted)
    assert len(got) >= wanted, f"{text!r}: {got}"
    return got


async def until(condition: Callable[[], Awaitable[bool]], what: str, seconds: float = 20) -> None:
    for _ in range(int(seconds / 0.05)):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def take_part(parent: Parent, words: dict[str, str], disclose: bool) -> None:
    """The whole flow, ending with consent to follow-up; with ``disclose``, a disclosure of
    self-harm answers "what could have been better". They give their own number in passing (so
    the redactor keeps a digest of it)."""
    own_number = "0" + parent.phone.removeprefix("+44")
    await say(parent, "hi")
    await say(parent, "yes")
    assert "what went well" in (await say(parent, "1"))[-1].lower()
    got = await say(parent, f"the {words['went_well']} group was kind to us")
    assert "could have been better" in got[-1].lower()
    if disclose:
        got = await say(
            parent,
            f"the {words['disclosure']} nights are long and i keep thinking everyone would be "
            "better off without me",
            2,
        )
        assert "not watched in real time" in got[0], got  # help first
    else:
        got = await say(parent, "the wait was far too long")
    assert "did you know where to go" in got[-1].lower()
    await say(parent, "yes the leaflet was clear")
    await say(parent, "yes she listened")
    await say(parent, "1")
    await say(parent, f"a {words.get('heard_about', 'friend')} poster, text me on {own_number}")
    assert "thank" in (await say(parent, "yes"))[-1].lower()  # follow-up: yes


async def start_and_go_quiet(parent: Parent, word: str) -> None:
    """A new conversation, agreed to, left after one answer: due a reminder in 20 hours."""
    await say(parent, "hi")
    await say(parent, "yes")
    assert "what went well" in (await say(parent, "1"))[-1].lower()
    got = await say(parent, f"the {word} session was quick")
    assert "could have been better" in got[-1].lower()


def replied(parent: Parent, text: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return any(text in reply for reply in parent.replies())

    return check


def erased(app: RunningApp, parent: Parent) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await participant_id(app, parent) is None

    return check


async def participant_id(app: RunningApp, parent: Parent) -> int | None:
    async with app.runtime.pipeline._sessions() as session:
        found = await session.scalar(
            select(Participant.id).where(Participant.pseudonym == parent.pseudonym)
        )
    return None if found is None else int(found)


# -- the test ------------------------------------------------------------------------------------


async def test_delete_my_data_leaves_nothing_of_them_anywhere_and_the_other_parent_untouched(
    erasure_app: RunningApp, telegram_api: FakeTelegramAPI, twilio_api: FakeTwilioAPI
) -> None:
    app, clock = erasure_app, erasure_app.clock
    config = app.config
    sessions = app.runtime.pipeline._sessions
    vault = Vault(config.security.vault_key)
    tracker_db = config.rasa.tracker_db
    a = Parent(app, telegram_api, 0, channel="sms", twilio=twilio_api)
    b = Parent(app, telegram_api, new_chat_id())

    # 1. Both take part; A discloses, and staff are alerted.
    await take_part(a, A_WORDS, disclose=True)
    await take_part(b, B_WORDS, disclose=False)
    staff_heard = [m["text"] for m in telegram_api.sent if m["chat_id"] == STAFF_CHAT_ID]
    assert any(a.pseudonym[:12] in text for text in staff_heard), "staff were not alerted"

    # 2. A "you said, we did" outcome reaches both; both answer it.
    async with sessions.begin() as session:
        await outcomes.create(
            session, flow_set=app.runtime.actions.flow_set, flow_id="hcp_experience",
            texts={"en": NEWS}, send_at=clock() + timedelta(minutes=10),
            quiet=config.schedule.quiet, now=clock(), default_language="en",
        )  # fmt: skip
    await app.runtime.tick()
    clock.advance(minutes=10)
    await app.runtime.tick()
    for parent in (a, b):
        await until(replied(parent, NEWS), "the outcome")
        await parent.settled_replies(0, 0)  # and recorded as sent: a reply answers it
    thanks = await say(a, f"the {A_WORDS['outcome_reply']} evenings sound brilliant, thank you")
    assert "passed it on to the team" in thanks[-1]
    thanks = await say(b, f"{B_WORDS['outcome_reply']} at last, thank you")
    assert "passed it on to the team" in thanks[-1]

    # 3. A week and a day later both start again and go quiet part-way (due a reminder), and a
    #    second outcome is scheduled for the next day.
    clock.advance(days=8)  # Wednesday noon
    await start_and_go_quiet(a, A_WORDS["second_conversation"])
    await start_and_go_quiet(b, B_WORDS["second"])
    async with sessions.begin() as session:
        await outcomes.create(
            session, flow_set=app.runtime.actions.flow_set, flow_id="hcp_experience",
            texts={"en": LATER_NEWS}, send_at=clock() + timedelta(days=1),
            quiet=config.schedule.quiet, now=clock(), default_language="en",
        )  # fmt: skip
    await app.runtime.tick()  # the outcome gets its job in apscheduler_jobs

    # What we hold before the erasure, and proof that the search below would find it.
    a_id, b_id = await participant_id(app, a), await participant_id(app, b)
    assert a_id is not None and b_id is not None
    before = await read_database(app)
    assert before.rows["apscheduler_jobs"], "the second outcome has no job in the scheduler"
    about_a = rows_about(before, a_id)
    needles = {
        "their pseudonym": a.pseudonym,
        "their pseudonym as staff alerts quote it": a.pseudonym[:12],
        **address_forms(a.phone),
        **{f"their word {word!r}": word for word in A_WORDS.values()},
        **identifiers(before, about_a),
        **redaction_digests(before.rows["participants"][(a_id,)]["redaction_state"]),
    }
    held = traces(before, a_id, needles, vault, a.phone)
    with_participants = {
        name
        for name, columns in before.columns.items()
        if any(map(_is_participant_column, columns))
    }
    unreached = with_participants - {name for name, keys in about_a.items() if keys}
    assert not unreached, f"extend the scenario: it puts nothing of A's in {sorted(unreached)}"
    for word in A_WORDS.values():  # redaction keeps them, so finding none later means something
        assert any(repr(word) in t for t in held), f"{word} is not stored at all: {held}"
    assert "contacts.address_encrypted: their sealed address" in held
    assert any(t.startswith("participants.redaction_state: their redaction digest") for t in held)
    assert any(".platform_id: their id 'twilio:SM" in t for t in held)
    a_tracker = await asyncio.to_thread(tracker_events, tracker_db, a.pseudonym)
    assert any(A_WORDS["second_conversation"] in e for e in a_tracker), "A is not in Rasa's store"
    b_before = {
        name: {k: before.rows[name][k] for k in keys}
        for name, keys in rows_about(before, b_id).items()
    }
    erasures_before = [r for r in before.rows["audit_log"].values() if r["action"] == "erase"]

    # 4. A asks to be erased and confirms while Twilio is down for a few seconds. What they told
    #    us goes at once; only their row, their sealed address and the confirmation still to be
    #    sent wait, until the confirmation has gone.
    assert "delete everything" in (await say(a, "delete my data"))[-1]
    twilio_api.fail_for(5)
    assert (await a.say("yes")).status_code == 200  # answered once recorded and handled
    waiting = await read_database(app)
    left = {
        name: [waiting.rows[name][key] for key in keys]
        for name, keys in rows_about(waiting, a_id).items()
        if keys
    }
    assert sorted(left) == ["contacts", "outbox", "participants"], sorted(left)
    assert [r["kind"] for r in left["outbox"]] == ["erase_confirmation"], left["outbox"]
    (row,) = left["participants"]
    assert row["erase_requested_at"] is not None and row["opted_out_at"] is not None
    assert (row["consent_followup"], row["redaction_state"]) == (None, {})
    # What they told us, and ids that lead to it: everything but their pseudonym and address.
    content = {k: v for k, v in needles.items() if not k.startswith(("their pseudo", "their addr"))}
    assert traces(waiting, a_id, content, vault, a.phone) == [
        "contacts.address_encrypted: their sealed address",
        "contacts.participant_id: their participant id",
        "outbox.participant_id: their participant id",
    ]
    assert await asyncio.to_thread(tracker_events, tracker_db, a.pseudonym) == []
    await until(replied(a, "deleted everything"), "the confirmation, once Twilio is back")
    await until(erased(app, a), "the participant row to go after the confirmation")
    told = len(a.replies())
    tried = len([r for r in twilio_api.requests if r.form.get("To") == a.phone])
    confirmation_sid = next(
        sid for sid, m in twilio_api.messages.items()
        if m["to"] == a.phone and "deleted everything" in m["body"]
    )  # fmt: skip
    needles[f"the confirmation's sid {confirmation_sid}"] = confirmation_sid

    # 5. Nothing of A's is left, and everything else is exactly as it was: the only change is
    #    their rows gone and one audit entry that says an erasure happened, not whose.
    after = await read_database(app)
    assert traces(after, a_id, needles, vault, a.phone) == []
    for name, rows in after.rows.items():
        kept = {k: r for k, r in before.rows.get(name, {}).items() if k not in about_a[name]}
        if name == "audit_log":
            new = [r for k, r in rows.items() if k not in kept]
            assert [(r["actor"], r["action"], r["detail"]) for r in new] == [
                ("participant", "erase", {})
            ], new
            rows = {k: r for k, r in rows.items() if k in kept}
        assert rows == kept, f"{name} changed beyond A's rows"
    assert len([r for r in after.rows["audit_log"].values() if r["action"] == "erase"]) == (
        len(erasures_before) + 1
    )
    for name, theirs in b_before.items():
        assert {k: after.rows[name].get(k) for k in theirs} == theirs, f"B's {name} changed"

    # Rasa's tracker store has nothing of theirs; B's conversation is still there.
    assert await asyncio.to_thread(tracker_events, tracker_db, a.pseudonym) == []
    stored = await asyncio.to_thread(tracker_store.all_text, tracker_db)
    assert not [n for n in (a.pseudonym, *A_WORDS.values()) if n in stored]
    b_tracker = await asyncio.to_thread(tracker_events, tracker_db, b.pseudonym)
    assert any(B_WORDS["second"] in e for e in b_tracker)
    # And Rasa itself knows nothing of them. (Its API answers an unknown id with a new, empty
    # conversation and stores that session start: the probe's own rows are removed after.)
    forgotten = await rasa_tracker(app, a.pseudonym)
    assert not [e for e in forgotten["events"] if e.get("event") in ("user", "bot", "slot")]
    assert not [w for w in A_WORDS.values() if w in json.dumps(forgotten)]
    remembered = await rasa_tracker(app, b.pseudonym)
    assert B_WORDS["second"] in json.dumps(remembered)
    await asyncio.to_thread(tracker_store.delete_sender, tracker_db, a.pseudonym)

    # 6. Twilio's late delivery report for the confirmation finds nothing and makes nothing.
    url = f"{config.server.public_url}/webhooks/twilio/status"
    headers, body = signed_form(url, status_params(confirmation_sid, "delivered", to=a.phone))
    async with httpx.AsyncClient(base_url=app.url) as client:
        report = await client.post("/webhooks/twilio/status", content=body, headers=headers)
    assert report.status_code == 204

    # 7. Time passes: the reminder falls due (Thursday 09:00), then the second outcome (Thursday
    #    noon). B gets both; nothing ever goes to A.
    clock.advance(hours=21)
    await app.runtime.tick()
    await until(replied(b, "part-way through"), "B's reminder")
    clock.advance(hours=4)
    await app.runtime.tick()
    await until(replied(b, LATER_NEWS), "the second outcome to B")
    await app.runtime.pipeline.retry_pending()
    await app.runtime.sender.deliver_due()
    await b.settled_replies(0, 0)
    await asyncio.sleep(0.5)
    assert a.replies()[told:] == []
    assert len([r for r in twilio_api.requests if r.form.get("To") == a.phone]) == tried

    final = await read_database(app)
    assert traces(final, a_id, needles, vault, a.phone) == []
    assert await asyncio.to_thread(tracker_events, tracker_db, a.pseudonym) == []
    # B's data is all still there: address, answers, outcome reply, both outcomes, the reminder.
    b_held = traces(
        final,
        b_id,
        {f"their word {w!r}": w for w in B_WORDS.values()} | {"pseudonym": b.pseudonym},
        vault,
        str(b.chat_id),
    )
    for expected in (
        "contacts.address_encrypted: their sealed address",
        f"answers.value: their word {B_WORDS['went_well']!r}",
        f"answers.value: their word {B_WORDS['second']!r}",
        f"outcome_replies.text: their word {B_WORDS['outcome_reply']!r}",
        "outcome_deliveries.participant_id: their participant id",
        "participants.pseudonym: pseudonym",
    ):
        assert expected in b_held, (expected, b_held)
    async with sessions() as session:
        rows = await session.execute(select(OutboxItem.kind, OutboxItem.participant_id))
        sent = list(rows.tuples())
    assert ("reminder", b_id) in sent and sent.count(("outcome", b_id)) == 2
