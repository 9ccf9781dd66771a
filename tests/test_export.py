"""Transcript export: CSV and JSON Lines, filters, formula neutralisation, streaming and audit.

Every database test runs on SQLite and on PostgreSQL, each schema built by the Alembic migration.
All participants, conversations and messages are invented.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import secrets
import stat
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import bot.export
from bot.errors import ParentVoiceError
from bot.export import COLUMNS, ExportFilter, export_messages, export_to_path, neutralise
from storage.db import make_engine, make_sessionmaker, migrate
from storage.models import Answer, AuditEntry, Base, Conversation, Message, Participant

PG_HOST = "postgres@127.0.0.1:5432"
PG_ADMIN_DB = "test"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ACTOR = "analyst.one"
BOM = codecs.BOM_UTF8
HEADER = (
    b"conversation,flow,flow_version,question_id,direction,text,time,channel,language,"
    b"themes,sentiment,sentiment_confidence\r\n"
)
UNCODED = ["", "", ""]  # themes, sentiment, confidence: only answers to text questions are coded


# --- database fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database per backend for the whole run (PostgreSQL: a new database)."""
    if request.param == "sqlite":
        url = "sqlite:///" + str(tmp_path_factory.mktemp("export") / "t.db")
        migrate(url)
        yield url
        return
    name = f"pv_export_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(f"postgresql://{PG_HOST}/{PG_ADMIN_DB}", autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except (
        psycopg.OperationalError
    ) as exc:  # PostgreSQL is a supported target: its absence fails the suite
        pytest.fail(f"PostgreSQL at {PG_HOST} is not reachable: {exc}")
    try:
        url = f"postgresql+psycopg://{PG_HOST}/{name}"
        migrate(url)
        yield url
    finally:
        with psycopg.connect(f"postgresql://{PG_HOST}/{PG_ADMIN_DB}", autocommit=True) as admin:
            # FORCE: a test that failed mid-stream may leave a pooled connection behind.
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The app's sessionmaker on an emptied database."""
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(table.delete())
    yield make_sessionmaker(engine)
    await engine.dispose()


# --- synthetic data ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Msg:
    text: str
    at: datetime
    direction: str = "in"
    question_id: str | None = None


_pseudonyms = (f"{n:064x}" for n in range(1, 1_000_000))


async def add_conversation(
    sessions: async_sessionmaker[AsyncSession],
    public_id: str,
    messages: Sequence[Msg],
    *,
    flow_id: str = "gp_visit",
    flow_version: int = 3,
    channel: str = "telegram",
    language: str = "en",
    consented: bool = True,
) -> str:
    """Store one participant, one conversation and its messages; returns the pseudonym."""
    pseudonym = next(_pseudonyms)
    async with sessions.begin() as session:
        participant = Participant(
            pseudonym=pseudonym, channel=channel, language=language, created_at=NOW
        )
        session.add(participant)
        await session.flush()
        conversation = Conversation(
            public_id=public_id,
            participant_id=participant.id,
            flow_id=flow_id,
            flow_version=flow_version,
            channel=channel,
            language=language,
            status="completed",
            consented_at=NOW if consented else None,
            started_at=NOW,
            updated_at=NOW,
        )
        session.add(conversation)
        await session.flush()
        if messages:
            await session.execute(
                insert(Message),
                [
                    {
                        "conversation_id": conversation.id,
                        "participant_id": participant.id,
                        "direction": m.direction,
                        "kind": "text",
                        "text": m.text,
                        "question_id": m.question_id,
                        "created_at": m.at,
                    }
                    for m in messages
                ],
            )
    return pseudonym


async def run_export(
    sessions: async_sessionmaker[AsyncSession],
    fmt: str = "csv",
    flt: ExportFilter = ExportFilter(),  # noqa: B008 - frozen, so a shared default is safe
) -> tuple[int, bytes]:
    out = io.BytesIO()
    rows = await export_messages(sessions, fmt, out, flt, ACTOR, NOW)
    return rows, out.getvalue()


def csv_rows(data: bytes) -> list[list[str]]:
    """The data rows of a CSV export (header checked and dropped)."""
    assert data.startswith(BOM + HEADER)
    return list(csv.reader(io.StringIO(data[len(BOM) :].decode("utf-8"), newline="")))[1:]


def jsonl_records(data: bytes) -> list[dict[str, Any]]:
    assert not data.startswith(BOM)
    return [json.loads(line) for line in data.decode("utf-8").split("\n") if line]


async def audit_entries(sessions: async_sessionmaker[AsyncSession]) -> list[AuditEntry]:
    async with sessions() as session:
        return list((await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all())


def at(day: date, hh: int = 9, mm: int = 0, ss: int = 0, us: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, us, tzinfo=UTC)


D = date(2026, 11, 22)


# --- neutralise: a table of cells --------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+44 7700 900123", "'+44 7700 900123"),
        ("-x", "'-x"),
        ("@cmd", "'@cmd"),
        ("\tfoo", "'\tfoo"),
        ("\rfoo", "'\rfoo"),
        ("plain words", "plain words"),
        ("", ""),
        ("a=b", "a=b"),
        (" =not first", " =not first"),
        ("'quoted", "'quoted"),
        ("2026-11-22T09:15:00Z", "2026-11-22T09:15:00Z"),
    ],
)
def test_neutralise(cell: str, expected: str) -> None:
    assert neutralise(cell) == expected


# --- CSV ---------------------------------------------------------------------------------------


async def test_csv_has_bom_header_crlf_and_rows_in_order(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # Inserted out of order: conversation b first, messages not in time order, two at the same time.
    pseudonym_b = await add_conversation(
        sessions,
        "C-b",
        [Msg("second", at(D, 9, 5)), Msg("first", at(D, 9, 0), "out", "q_intro")],
        flow_id="ward_stay",
        flow_version=1,
        channel="whatsapp",
        language="cy",
    )
    pseudonym_a = await add_conversation(
        sessions,
        "C-a",
        [
            Msg("same time, lower id", at(D, 10)),
            Msg('comma, "quotes", café 👍', at(D, 9, 30), "in", "q_wait"),
            Msg("same time, higher id", at(D, 10)),
        ],
    )

    rows, data = await run_export(sessions)

    assert rows == 5
    assert all(row[len(COLUMNS) - 3 :] == UNCODED for row in csv_rows(data))
    assert [row[: len(COLUMNS) - 3] for row in csv_rows(data)] == [
        [
            "C-a",
            "gp_visit",
            "3",
            "q_wait",
            "in",
            'comma, "quotes", café 👍',
            "2026-11-22T09:30:00Z",
            "telegram",
            "en",
        ],
        [
            "C-a",
            "gp_visit",
            "3",
            "",
            "in",
            "same time, lower id",
            "2026-11-22T10:00:00Z",
            "telegram",
            "en",
        ],
        [
            "C-a",
            "gp_visit",
            "3",
            "",
            "in",
            "same time, higher id",
            "2026-11-22T10:00:00Z",
            "telegram",
            "en",
        ],
        [
            "C-b",
            "ward_stay",
            "1",
            "q_intro",
            "out",
            "first",
            "2026-11-22T09:00:00Z",
            "whatsapp",
            "cy",
        ],
        ["C-b", "ward_stay", "1", "", "in", "second", "2026-11-22T09:05:00Z", "whatsapp", "cy"],
    ]
    # Every line ends CRLF (no field here holds a newline), and no pseudonym leaks.
    assert data.count(b"\n") == data.count(b"\r\n") == 6
    assert pseudonym_a.encode() not in data and pseudonym_b.encode() not in data


async def test_csv_neutralises_every_cell(sessions: async_sessionmaker[AsyncSession]) -> None:
    formulas = ["=SUM(A1)", "+44 7700 900123", "-x", "@cmd", "\tfoo", "\rfoo"]
    await add_conversation(
        sessions,
        "@conv",
        [Msg(text, at(D, 9, i), "in", "-q") for i, text in enumerate(formulas)],
        flow_id="=flow",
        channel="+chan",
        language="-l",
    )

    rows, data = await run_export(sessions)

    assert rows == len(formulas)
    parsed = csv_rows(data)
    assert [row[COLUMNS.index("text")] for row in parsed] == ["'" + text for text in formulas]
    for row in parsed:
        record = dict(zip(COLUMNS, row, strict=True))
        assert record["conversation"] == "'@conv"
        assert record["flow"] == "'=flow"
        assert record["question_id"] == "'-q"
        assert record["channel"] == "'+chan"
        assert record["language"] == "'-l"


# --- JSON Lines --------------------------------------------------------------------------------


async def test_jsonl_round_trips_without_neutralising(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    texts = ["=SUM(A1)", "café – 👍", "line one\nline two", "odd\u2028separator\u2029here"]
    await add_conversation(
        sessions, "C-j", [Msg(text, at(D, 9, i), "out", "q1") for i, text in enumerate(texts)]
    )

    rows, data = await run_export(sessions, "jsonl")

    assert rows == len(texts)
    records = jsonl_records(data)
    assert [list(record) for record in records] == [list(COLUMNS)] * len(texts)
    assert [record["text"] for record in records] == texts
    assert records[0] == {
        "conversation": "C-j",
        "flow": "gp_visit",
        "flow_version": 3,
        "question_id": "q1",
        "direction": "out",
        "text": "=SUM(A1)",
        "time": "2026-11-22T09:00:00Z",
        "channel": "telegram",
        "language": "en",
        "themes": [],
        "sentiment": "",
        "sentiment_confidence": "",
    }
    # Literal UTF-8 (ensure_ascii=False), and one line per row even for splitlines() readers.
    assert "café – 👍".encode() in data
    assert len(data.decode("utf-8").splitlines()) == rows


# --- filters -----------------------------------------------------------------------------------

SINCE = date(2026, 11, 10)
UNTIL = date(2026, 11, 20)


# Message texts name where each message sits relative to SINCE and UNTIL.
GP = ["before", "since-start", "until-late", "until-last-us", "after"]
WARD = ["other"]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (ExportFilter(), GP + WARD),
        (ExportFilter(flow_id="gp_visit"), GP),
        (ExportFilter(flow_id="ward_stay"), WARD),
        (ExportFilter(flow_id="no_such_flow"), []),
        (ExportFilter(since=SINCE), GP[1:] + WARD),
        (ExportFilter(until=UNTIL), GP[:-1] + WARD),
        (ExportFilter(since=SINCE, until=UNTIL), GP[1:-1] + WARD),
        (ExportFilter(since=UNTIL, until=UNTIL), ["until-late", "until-last-us"]),
        (ExportFilter(flow_id="gp_visit", since=SINCE, until=SINCE), ["since-start"]),
    ],
)
async def test_filters_are_inclusive_utc_dates(
    sessions: async_sessionmaker[AsyncSession], flt: ExportFilter, expected: list[str]
) -> None:
    await add_conversation(
        sessions,
        "C-1",
        [
            Msg("before", at(SINCE - timedelta(days=1), 23, 59, 59, 999_999)),
            Msg("since-start", at(SINCE, 0, 0)),
            Msg("until-late", at(UNTIL, 23, 59)),
            Msg("until-last-us", at(UNTIL, 23, 59, 59, 999_999)),
            Msg("after", at(UNTIL + timedelta(days=1), 0, 0)),
        ],
    )
    await add_conversation(
        sessions, "C-2", [Msg("other", at(date(2026, 11, 15)))], flow_id="ward_stay"
    )

    rows, data = await run_export(sessions, "jsonl", flt)

    assert [record["text"] for record in jsonl_records(data)] == expected
    assert rows == len(expected)


# --- audit -------------------------------------------------------------------------------------


async def test_conversations_never_consented_to_are_not_exported(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await add_conversation(sessions, "agreed000001", [Msg("the clinic was great", NOW)])
    await add_conversation(sessions, "notagreed001", [Msg("hi", NOW)], consented=False)
    out = io.BytesIO()
    rows = await export_messages(sessions, "jsonl", out, ExportFilter(), actor="test", now=NOW)
    exported = [json.loads(line) for line in out.getvalue().decode().splitlines()]
    assert rows == 1
    assert [row["conversation"] for row in exported] == ["agreed000001"]


async def test_export_is_audited_with_row_count(sessions: async_sessionmaker[AsyncSession]) -> None:
    await add_conversation(sessions, "C-1", [Msg("hello", at(D)), Msg("bye", at(D, 10))])
    flt = ExportFilter(flow_id="gp_visit", since=date(2026, 11, 1), until=date(2026, 11, 30))

    rows, _ = await run_export(sessions, "jsonl", flt)
    await run_export(sessions, "csv", ExportFilter(flow_id="nothing_here"))

    first, second = await audit_entries(sessions)
    assert rows == 2
    assert (first.actor, first.action) == (ACTOR, "export")
    # SQLite gives naive datetimes back; the value is UTC either way.
    assert first.at.replace(tzinfo=first.at.tzinfo or UTC) == NOW
    assert first.detail == {
        "format": "jsonl",
        "flow": "gp_visit",
        "since": "2026-11-01",
        "until": "2026-11-30",
        "rows": 2,
    }
    assert second.detail == {
        "format": "csv",
        "flow": "nothing_here",
        "since": None,
        "until": None,
        "rows": 0,
    }


# --- operator mistakes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "flt", "actor", "message"),
    [
        ("pdf", ExportFilter(), ACTOR, "unknown export format 'pdf': use csv, jsonl or xlsx"),
        ("CSV", ExportFilter(), ACTOR, "unknown export format 'CSV'"),
        (
            "csv",
            ExportFilter(since=date(2026, 11, 2), until=date(2026, 11, 1)),
            ACTOR,
            "start date 2026-11-02 is after its end date 2026-11-01",
        ),
        ("csv", ExportFilter(), "", "export actor must be"),
        ("csv", ExportFilter(), "x" * 65, "export actor must be"),
    ],
)
async def test_mistakes_raise_before_anything_is_written(
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    fmt: str,
    flt: ExportFilter,
    actor: str,
    message: str,
) -> None:
    await add_conversation(sessions, "C-1", [Msg("hello", at(D))])
    out = io.BytesIO()

    with pytest.raises(ParentVoiceError, match=message):
        await export_messages(sessions, fmt, out, flt, actor, NOW)
    with pytest.raises(ParentVoiceError, match=message):
        await export_to_path(sessions, fmt, tmp_path / "out.csv", flt, actor, NOW)

    assert out.getvalue() == b""
    assert list(tmp_path.iterdir()) == []
    assert await audit_entries(sessions) == []


# --- to a file ---------------------------------------------------------------------------------


async def test_export_to_path_writes_a_private_file(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await add_conversation(sessions, "C-1", [Msg("hello", at(D))])
    target = tmp_path / "export.csv"

    rows = await export_to_path(sessions, "csv", target, ExportFilter(), ACTOR, NOW)

    assert rows == 1
    assert csv_rows(target.read_bytes())[0][COLUMNS.index("text")] == "hello"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert list(tmp_path.iterdir()) == [target]


async def test_export_to_missing_directory_is_an_operator_error(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    target = tmp_path / "no_such_dir" / "export.csv"

    with pytest.raises(ParentVoiceError, match="cannot write export to .*export.csv"):
        await export_to_path(sessions, "csv", target, ExportFilter(), ACTOR, NOW)

    assert await audit_entries(sessions) == []


async def test_export_to_path_failure_leaves_existing_file_alone(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_conversation(sessions, "C-1", [Msg("hello", at(D))])
    target = tmp_path / "export.csv"
    target.write_bytes(b"yesterday's export")

    def broken(row: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(bot.export, "_record", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        await export_to_path(sessions, "csv", target, ExportFilter(), ACTOR, NOW)

    assert target.read_bytes() == b"yesterday's export"
    assert list(tmp_path.iterdir()) == [target]
    assert await audit_entries(sessions) == []


# --- size --------------------------------------------------------------------------------------


class CountingBytesIO(io.BytesIO):
    """Counts writes, to show rows go out as they are read rather than in one piece at the end."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, data: Any) -> int:
        self.writes += 1
        return super().write(data)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_large_export_streams_every_row(
    sessions: async_sessionmaker[AsyncSession], fmt: str
) -> None:
    conversations, per_conversation = 100, 200
    for c in range(conversations):
        start = at(D, 8)
        await add_conversation(
            sessions,
            f"C-{c:05d}",
            [Msg(f"message {i}", start + timedelta(seconds=i)) for i in range(per_conversation)],
        )
    total = conversations * per_conversation
    out = CountingBytesIO()

    rows = await export_messages(sessions, fmt, out, ExportFilter(), ACTOR, NOW)

    assert rows == total
    lines = out.getvalue().split(b"\n")
    assert len(lines) == total + (2 if fmt == "csv" else 1)  # header, then the empty tail
    assert out.writes >= total  # at least one write per row
    assert (await audit_entries(sessions))[0].detail["rows"] == total


async def test_an_answer_carries_its_themes_and_sentiment(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The coding of a free-text answer is on the parent's message that gave it, and only there."""
    await add_conversation(
        sessions,
        "C-coded",
        [
            Msg("What could have been better?", at(D, 9), "out", "better"),
            Msg("waited 6 weeks for a call back", at(D, 9, 1), "in", "better"),
        ],
    )
    async with sessions.begin() as session:
        conversation = await session.scalar(
            select(Conversation).where(Conversation.public_id == "C-coded")
        )
        assert conversation is not None
        session.add(
            Answer(
                conversation_id=conversation.id,
                participant_id=conversation.participant_id,
                question_id="better",
                value="waited 6 weeks for a call back",
                created_at=at(D, 9, 1),
                themes=[["timely_support", 0.91], ["signposting", 0.42]],
                sentiment="negative",
                sentiment_confidence=0.88,
            )
        )

    _, data = await run_export(sessions, flt=ExportFilter(flow_id="gp_visit"))
    rows = {row[COLUMNS.index("direction")]: row for row in csv_rows(data) if row[0] == "C-coded"}
    assert rows["in"][COLUMNS.index("themes")] == "timely_support:0.91;signposting:0.42"
    assert rows["in"][COLUMNS.index("sentiment")] == "negative"
    assert rows["in"][COLUMNS.index("sentiment_confidence")] == "0.88"
    assert rows["out"][len(COLUMNS) - 3 :] == UNCODED

    _, data = await run_export(sessions, "jsonl")
    (record,) = [
        r for r in jsonl_records(data) if r["conversation"] == "C-coded" and r["direction"] == "in"
    ]
    assert record["themes"] == [
        {"theme": "timely_support", "confidence": 0.91},
        {"theme": "signposting", "confidence": 0.42},
    ]
    assert record["sentiment"] == "negative" and record["sentiment_confidence"] == 0.88


async def test_xlsx_export_has_the_messages_and_a_data_dictionary(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from openpyxl import load_workbook

    from bot.export import DATA_DICTIONARY

    formulas = ["=SUM(A1)", "+44 7700 900123", "plain answer"]
    await add_conversation(
        sessions, "conv-x", [Msg(text, at(D, 9, i), "in", "q") for i, text in enumerate(formulas)]
    )
    rows, data = await run_export(sessions, "xlsx")
    book = load_workbook(io.BytesIO(data), read_only=True)
    assert book.sheetnames == ["Messages", "Data dictionary"]
    table = list(book["Messages"].iter_rows(values_only=True))
    assert list(table[0]) == list(COLUMNS) and len(table) == rows + 1 == 4
    texts = [row[COLUMNS.index("text")] for row in table[1:]]
    assert texts == ["'=SUM(A1)", "'+44 7700 900123", "plain answer"]  # never run as formulas
    assert table[1][COLUMNS.index("flow_version")] == 3  # numbers stay numbers
    dictionary = list(book["Data dictionary"].iter_rows(values_only=True))
    assert [r[0] for r in dictionary[1:]] == list(COLUMNS) == [c for c, _ in DATA_DICTIONARY]
