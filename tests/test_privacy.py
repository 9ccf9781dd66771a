"""After a parent types their name, their child's name, a phone number and an NHS number, none of
them (nor their Telegram chat id or profile name) appears anywhere we keep: every table, Rasa's
tracker store, the logs, or the export. And "delete my data" leaves nothing of them at all."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot import tracker_store
from bot.export import ExportFilter, export_to_path
from storage.models import Base
from tests.conversation import Parent, new_chat_id
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.harness import RunningApp

# Synthetic identifiers. 943 476 5919 passes the NHS mod-11 check; 07700 900xxx is Ofcom's drama range.
PARENT_NAME, SURNAME, CHILD_NAME = "Siobhan", "Okonkwo", "Kacper"
PHONE_SPACED, PHONE_PLAIN = "07700 900123", "07700900123"
NHS_SPACED, NHS_PLAIN = "943 476 5919", "9434765919"
CONVERSATION = [
    ("hi", 3),
    ("yes", 1),
    ("1", 1),
    (f"my name is {PARENT_NAME} {SURNAME} and my son {CHILD_NAME} loved the health visitor", 1),
    (f"you can call me on {PHONE_SPACED}, his nhs number is {NHS_SPACED}", 1),
    (f"{CHILD_NAME.lower()} still has reflux, text {PHONE_PLAIN} or quote nhs no {NHS_PLAIN}", 1),
]


async def _all_rows(app: RunningApp) -> str:
    sessions = app.runtime.pipeline._sessions
    chunks = []
    async with sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                chunks.append(" ".join(repr(value) for value in row))
        # Belt and braces: tables the models might not know about (a migration added one).
        if session.bind.dialect.name == "sqlite":
            names = [
                r[0]
                for r in await session.execute(
                    text("SELECT name FROM sqlite_master WHERE type='table'")
                )
            ]
        else:
            names = [
                r[0]
                for r in await session.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
                )
            ]
        for name in names:
            for row in (await session.execute(text(f'SELECT * FROM "{name}"'))).all():
                chunks.append(" ".join(repr(value) for value in row))
    return "\n".join(chunks)


def _assert_absent(haystack: str, needles: list[str], where: str) -> None:
    low = haystack.lower()
    for needle in needles:
        assert needle.lower() not in low, f"{needle!r} found in {where}"


async def test_identifiers_never_stored_logged_or_exported(
    app: RunningApp,
    telegram_api: FakeTelegramAPI,
    session_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    parent = Parent(app, telegram_api, new_chat_id())
    for message, replies in CONVERSATION:
        before = len(parent.replies())
        response = await parent.say(message)
        assert response.status_code == 200
        assert len(await parent.expect_replies(before, replies)) == replies

    secrets_ = [PARENT_NAME, SURNAME, CHILD_NAME, PHONE_SPACED, PHONE_PLAIN, NHS_SPACED, NHS_PLAIN]
    profile = parent.last_update["message"]["from"]["first_name"]  # what Telegram tells us
    identifiers = [*secrets_, str(parent.chat_id), profile]

    stored = await _all_rows(app)
    assert "[PERSON_" in stored and "[PHONE_" in stored and "[NHS_NUMBER_" in stored
    _assert_absent(stored, identifiers, "the database")

    tracker = await asyncio.to_thread(tracker_store.all_text, session_dir / "rasa-tracker.db")
    assert parent.pseudonym in tracker  # the conversation really is in Rasa's store...
    _assert_absent(tracker, identifiers, "Rasa's tracker store")  # ...but only redacted

    logs = "\n".join(record.getMessage() for record in caplog.records)
    rasa_log = (session_dir / "rasa.log").read_text(encoding="utf-8", errors="replace")
    _assert_absent(logs, identifiers, "the app's logs")
    _assert_absent(rasa_log, identifiers, "Rasa's log")

    sessions = app.runtime.pipeline._sessions
    for fmt in ("csv", "jsonl"):
        out = tmp_path / f"export.{fmt}"
        rows = await export_to_path(
            sessions, fmt, out, ExportFilter(), actor="test", now=app.clock()
        )
        assert rows > 0
        exported = out.read_text(encoding="utf-8-sig")
        assert "[PHONE_1]" in exported
        _assert_absent(exported, identifiers, f"the {fmt} export")


async def test_delete_my_data_erases_everything(
    app: RunningApp, telegram_api: FakeTelegramAPI, session_dir: Path
) -> None:
    parent = Parent(app, telegram_api, new_chat_id())
    script = [
        ("hi", 3),
        ("yes", 1),
        ("2", 1),
        (f"my daughter {CHILD_NAME} was weighed, call {PHONE_SPACED}", 1),
        ("delete my data", 1),
        ("yes", 1),
    ]
    for message, replies in script:
        before = len(parent.replies())
        await parent.say(message)
        assert len(await parent.expect_replies(before, replies)) == replies
    assert "deleted everything" in parent.replies()[-1]
    await asyncio.sleep(0.3)

    stored = await _all_rows(app)
    assert parent.pseudonym not in stored, "a row still carries the participant's pseudonym"
    tracker = await asyncio.to_thread(tracker_store.all_text, session_dir / "rasa-tracker.db")
    assert parent.pseudonym not in tracker, "Rasa's tracker still holds the conversation"
    sessions = app.runtime.pipeline._sessions
    async with sessions() as session:
        audit = (await session.execute(text("SELECT action, detail FROM audit_log"))).all()
    assert any(action == "erase" for action, _ in audit)
    assert all(parent.pseudonym not in json.dumps(detail) for _, detail in audit)

    # Writing again afterwards starts afresh, as a new participant.
    before = len(parent.replies())
    await parent.say("hello")
    assert len(await parent.expect_replies(before, 3)) == 3  # the menu comes with the welcome
