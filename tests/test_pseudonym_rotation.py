"""Rotating the pseudonym key: "NEW,OLD" in the environment, `parentvoice keys rotate-pseudonyms`,
then NEW alone. Nobody becomes a new parent on the way: a parent still known by their OLD
pseudonym is found and re-keyed when they write, everyone with an address is re-keyed by the
command, and Rasa's tracker rows follow. Storage tests run on SQLite and PostgreSQL; the last
test drives the whole app with the real Rasa. Synthetic parents only (Ofcom's drama numbers)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import tracker_store
from bot.config import load_config
from bot.errors import ConfigError
from bot.pseudonym import pseudonym
from bot.redact import RedactionState, Redactor
from bot.vault import Vault
from storage import conversations, participants
from storage.db import make_engine, make_sessionmaker
from storage.models import Contact, Conversation, Message, Participant
from tests.conversation import Parent, new_chat_id, stored
from tests.databases import migrated_database
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.harness import ROOT, Clock, RunningApp, config_env, free_port, make_config

OLD = "old-synthetic-pseudonym-key-0123456789"
NEW = "new-synthetic-pseudonym-key-9876543210"
VAULT_KEY = "ZGV2LW9ubHktdmF1bHQta2V5LWNoYW5nZS1tZS0wMDA="  # config.yaml's development key
VAULT = Vault(VAULT_KEY.encode())
NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def old(phone: str) -> str:
    return pseudonym(OLD.encode(), "sms", phone)


def new(phone: str) -> str:
    return pseudonym(NEW.encode(), "sms", phone)


@dataclass
class Database:
    url: str
    sessions: async_sessionmaker[AsyncSession]
    tracker: Path  # Rasa's tracker store: a real SQLite file with Rasa's table


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with migrated_database(request.param, tmp_path, "rotation") as url:
        engine = make_engine(url)
        tracker = tmp_path / "rasa-tracker.db"
        with sqlite3.connect(tracker) as conn:  # the table as Rasa 3.6's SQLTrackerStore makes it
            conn.execute(
                "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
                "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
                "action_name VARCHAR(255), data TEXT)"
            )
        yield Database(url, make_sessionmaker(engine), tracker)
        await engine.dispose()


async def parent(db: Database, key: str, phone: str, *, purged: bool = False) -> int:
    """A synthetic SMS parent known by their pseudonym under ``key``, half-way through a
    conversation that Rasa has a tracker for; ``purged``: retention removed their address."""
    who = pseudonym(key.encode(), "sms", phone)
    async with db.sessions.begin() as session:
        person = Participant(pseudonym=who, channel="sms", language="en", created_at=NOW,
                             last_inbound_at=NOW, redaction_state={})  # fmt: skip
        if not purged:
            person.contact = Contact(address_encrypted=VAULT.seal(phone), created_at=NOW)
        session.add(person)
        await session.flush()
        talk = Conversation(public_id=uuid.uuid4().hex[:16], participant_id=person.id,
                            flow_id="hcp_experience", flow_version=1, channel="sms", language="en",
                            status="active", current_question="went_well", started_at=NOW,
                            updated_at=NOW)  # fmt: skip
        session.add(talk)
        await session.flush()
        session.add(Message(conversation_id=talk.id, participant_id=person.id, direction="in",
                            kind="text", text="the nurse was kind", created_at=NOW))  # fmt: skip
    with sqlite3.connect(db.tracker) as conn:
        conn.executemany(
            "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)",
            [(who, "user", 1.0, '{"text": "yes"}'), (who, "bot", 2.0, '{"text": "thanks"}')],
        )
    return person.id


def tracker_rows(db: Database, sender_id: str) -> int:
    with sqlite3.connect(db.tracker) as conn:
        found = conn.execute("SELECT COUNT(*) FROM events WHERE sender_id = ?", (sender_id,))
        return int(found.fetchone()[0])


async def pseudonym_of(db: Database, participant_id: int) -> str | None:
    async with db.sessions() as session:
        return await session.scalar(
            select(Participant.pseudonym).where(Participant.id == participant_id)
        )


def rotate(db: Database, keys: str) -> subprocess.CompletedProcess[str]:
    """`parentvoice keys rotate-pseudonyms`, as an operator runs it."""
    env = {
        **os.environ,
        "PARENTVOICE__DATABASE__URL": db.url,
        "PARENTVOICE__SECURITY__PSEUDONYM_KEY": keys,
        "PARENTVOICE__SECURITY__VAULT_KEY": VAULT_KEY,
        "PARENTVOICE__RASA__TRACKER_DB": str(db.tracker),
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "keys", "rotate-pseudonyms"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


async def test_rotate_then_drop_the_old_key_a_returning_parent_is_the_same_participant(
    db: Database,
) -> None:
    ann = await parent(db, OLD, "+447700900201")
    bea = await parent(db, OLD, "+447700900202")
    cas = await parent(db, OLD, "+447700900203", purged=True)
    dee = await parent(db, NEW, "+447700900204")  # first wrote after "NEW,OLD" was set

    first = await asyncio.to_thread(rotate, db, f"{NEW},{OLD}")
    assert first.returncode == 0, first.stderr
    assert "re-keyed 2 participant(s) to the first of 2 pseudonym key(s); 1 already had it" in (
        first.stdout
    )
    assert "moved 4 Rasa tracker row(s) to the new sender ids" in first.stdout
    assert "1 participant(s) cannot be re-keyed: their address was already purged" in first.stdout
    assert "stay linked only to their past data" in first.stdout
    for who, phone in ((ann, "+447700900201"), (bea, "+447700900202"), (dee, "+447700900204")):
        assert await pseudonym_of(db, who) == new(phone)
        assert tracker_rows(db, new(phone)) == 2 and tracker_rows(db, old(phone)) == 0
    assert await pseudonym_of(db, cas) == old("+447700900203")  # no address: left as it was
    assert tracker_rows(db, old("+447700900203")) == 2

    again = await asyncio.to_thread(rotate, db, f"{NEW},{OLD}")
    assert again.returncode == 0, again.stderr
    assert "re-keyed 0 participant(s) to the first of 2 pseudonym key(s); 3 already had it" in (
        again.stdout
    )
    assert "moved 0 Rasa tracker row(s)" in again.stdout

    # NEW alone from here: Ann writes again and is the same participant, mid-conversation.
    async with db.sessions.begin() as session:
        back = await participants.get_or_create(
            session, pseudonym=new("+447700900201"), channel="sms", language="en",
            sealed_address=VAULT.seal("+447700900201"), now=NOW + timedelta(days=1),
        )  # fmt: skip
        assert back.id == ann
        talk = await conversations.open_conversation(session, back.id)
        assert talk is not None and talk.current_question == "went_well"
        said = await session.scalar(select(Message.text).where(Message.participant_id == ann))
        assert said == "the nurse was kind"
        assert await session.scalar(select(func.count()).select_from(Participant)) == 4


async def test_mid_rotation_a_parent_is_found_by_their_old_pseudonym_and_re_keyed_once(
    db: Database,
) -> None:
    ann = await parent(db, OLD, "+447700900211")
    async with db.sessions.begin() as session:
        found = await participants.get_or_create(
            session, pseudonym=new("+447700900211"), former_pseudonyms=[old("+447700900211")],
            channel="sms", language="en", sealed_address=VAULT.seal("+447700900211"), now=NOW,
        )  # fmt: skip
        assert found.id == ann and found.pseudonym == old("+447700900211")
        assert await participants.rekey(session, ann, found.pseudonym, new("+447700900211"), NOW)
        assert found.pseudonym == new("+447700900211")  # the loaded row sees it at once
    # A second re-key of the same parent (the command, say, that read them before) does nothing.
    async with db.sessions.begin() as session:
        assert not await participants.rekey(
            session, ann, old("+447700900211"), new("+447700900211"), NOW
        )
        assert await session.scalar(select(func.count()).select_from(Participant)) == 1


async def test_a_parent_being_answered_is_found_but_re_keyed_later(db: Database) -> None:
    """While a process holds the parent's lease it asks Rasa under the old sender id, so neither
    an inbound message nor the command re-keys them then; they are still not a new parent."""
    bea = await parent(db, OLD, "+447700900212")
    now = datetime.now(UTC)  # the command runs in real time

    async def lease(until: datetime | None) -> None:
        async with db.sessions.begin() as session:
            person = await session.get(Participant, bea)
            assert person is not None
            person.processing_by, person.processing_until = "other-process", until

    await lease(now + timedelta(minutes=10))
    async with db.sessions.begin() as session:
        found = await participants.get_or_create(
            session, pseudonym=new("+447700900212"), former_pseudonyms=[old("+447700900212")],
            channel="sms", language="en", sealed_address=VAULT.seal("+447700900212"), now=now,
        )  # fmt: skip
        assert found.id == bea
        assert not await participants.rekey(
            session, bea, found.pseudonym, new("+447700900212"), now
        )
    busy = await asyncio.to_thread(rotate, db, f"{NEW},{OLD}")
    assert busy.returncode == 0, busy.stderr
    assert "1 participant(s) were being answered at that moment" in busy.stdout
    assert await pseudonym_of(db, bea) == old("+447700900212")
    await lease(None)  # answered
    free = await asyncio.to_thread(rotate, db, f"{NEW},{OLD}")
    assert "re-keyed 1 participant(s)" in free.stdout
    assert "the old keys can be dropped" in free.stdout
    assert await pseudonym_of(db, bea) == new("+447700900212")


def test_tracker_moves_are_harmless_without_a_store(tmp_path: Path) -> None:
    assert tracker_store.move_senders(tmp_path / "none.db", {"a": "b"}) == 0
    sqlite3.connect(tmp_path / "empty.db").close()  # Rasa has not made its table yet
    assert tracker_store.move_senders(tmp_path / "empty.db", {"a": "b"}) == 0


def test_the_key_setting_takes_new_then_old_keys_and_says_what_is_wrong() -> None:
    config = load_config(
        ROOT / "config.yaml", environ={"PARENTVOICE__SECURITY__PSEUDONYM_KEY": f"{NEW} , {OLD}"}
    )
    assert config.security.pseudonym_key == NEW.encode()
    assert config.security.pseudonym_old_keys == (OLD.encode(),)
    for value, message in [
        (f"{NEW},short", "pseudonym_key must be at least 16 characters"),
        (f"{NEW},", "pseudonym_key must be at least 16 characters"),
        (f"{NEW},{NEW}", "lists the same key twice"),
    ]:
        with pytest.raises(ConfigError, match=message):
            load_config(
                ROOT / "config.yaml", environ={"PARENTVOICE__SECURITY__PSEUDONYM_KEY": value}
            )


def test_the_redactor_still_knows_names_remembered_under_the_old_key() -> None:
    """The key is also the secret of the redactor's remembered names (RedactionState digests),
    which cannot be re-keyed: they are matched under OLD while it is configured, and remembered
    again under NEW when they come up."""
    state = RedactionState()
    # "Blue" is a dictionary word: only the remembered digest recognises it without a cue.
    said = Redactor(OLD.encode()).redact("my son is called Blue", state).text
    assert said == "my son is called [CHILD_1]"
    rotating = Redactor(NEW.encode(), [OLD.encode()])
    assert rotating.redact("blue loved it", state).text == "[CHILD_1] loved it"
    assert Redactor(NEW.encode()).redact("blue cried", state).text == "[CHILD_1] cried"


async def test_a_rotation_through_the_whole_app_keeps_each_parent_and_their_conversation(
    session_dir: Path,
    rasa_server: str,
    rasa_token: str,
    telegram_api: FakeTelegramAPI,
    actions_host: RunningApp,
) -> None:
    """OLD → "NEW,OLD" (a parent who writes is re-keyed on the spot, Rasa's rows follow) →
    `keys rotate-pseudonyms` (the other parent) → NEW alone: both carry on where they were."""
    tmp = session_dir / f"rotation-{free_port()}"
    tmp.mkdir()
    tracker = tmp.parent / "rasa-tracker.db"  # the test Rasa's (harness.config_env)

    def env(keys: str) -> dict[str, str]:
        return config_env(
            tmp, db_url=f"sqlite:///{tmp / 'pv.db'}", port=free_port(), rasa_url=rasa_server,
            rasa_token=rasa_token, telegram_api=telegram_api.base_url, pseudonym_key=keys,
        )  # fmt: skip

    async def start(keys: str) -> RunningApp:
        e = env(keys)
        config = make_config(
            tmp, db_url=e["PARENTVOICE__DATABASE__URL"], port=int(e["PARENTVOICE__SERVER__PORT"]),
            rasa_url=rasa_server, rasa_token=rasa_token, telegram_api=telegram_api.base_url,
            pseudonym_key=keys,
        )  # fmt: skip
        app = RunningApp(config, Clock())
        await app.start()
        return app

    async def chat(someone: Parent, *texts: str) -> None:
        for text in texts:
            before = len(someone.replies())
            assert (await someone.say(text)).status_code == 200
            assert await someone.settled_replies(before, 1), text

    def rows(sender_id: str) -> int:
        with sqlite3.connect(tracker) as conn:
            found = conn.execute("SELECT COUNT(*) FROM events WHERE sender_id = ?", (sender_id,))
            return int(found.fetchone()[0])

    app = await start(OLD)
    try:
        ann, bea = (
            Parent(app, telegram_api, new_chat_id()),
            Parent(app, telegram_api, new_chat_id()),
        )
        await chat(ann, "hi", "yes", "1", "my son is called Blue and the nurse was kind")
        await chat(bea, "hi", "yes", "1")
        ann_before, bea_before = await stored(app, ann.pseudonym), await stored(app, bea.pseudonym)
        ann_old = ann.pseudonym
        assert rows(ann_old) > 0
    finally:
        await app.stop()

    app = await start(f"{NEW},{OLD}")
    try:
        ann = Parent(app, telegram_api, ann.chat_id)
        await chat(ann, "blue loved the toys")
        now = await stored(app, ann.pseudonym)
        assert now["participant"].id == ann_before["participant"].id  # the same parent...
        assert now["conversations"] == 1  # ...carrying on in the same conversation
        assert set(now["answers"]) == {"consent", "service", "went_well", "could_be_better"}
        assert now["answers"]["could_be_better"] == "[CHILD_1] loved the toys"
        assert rows(ann.pseudonym) > rows(ann_old) == 0  # Rasa's record moved with them
    finally:
        await app.stop()

    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "bot.cli", "keys", "rotate-pseudonyms"],
        cwd=ROOT, env={**os.environ, **env(f"{NEW},{OLD}")}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "re-keyed 1 participant(s) to the first of 2 pseudonym key(s); 1 already had it" in (
        done.stdout
    )

    app = await start(NEW)
    try:
        bea = Parent(app, telegram_api, bea.chat_id)
        await chat(bea, "she was kind")
        now = await stored(app, bea.pseudonym)
        assert now["participant"].id == bea_before["participant"].id
        assert now["conversations"] == 1 and "went_well" in now["answers"]
        async with app.runtime.pipeline._sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Participant)) == 2
    finally:
        await app.stop()
