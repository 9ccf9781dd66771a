"""Export anonymised transcripts for staff: one row per message, as CSV or JSON Lines.

Rows are streamed from the database and written as they arrive, so an export of any size runs in
constant memory. Every export is recorded in the audit log with who ran it and how many rows left.
Only the conversation's ``public_id`` identifies a conversation; participant pseudonyms and database
ids never appear in an export. Message text is already redacted when it is stored.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from sqlalchemy import Select, and_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import ParentVoiceError
from storage.db import as_utc
from storage.models import Answer, AuditEntry, Conversation, Message

__all__ = [
    "COLUMNS",
    "FORMATS",
    "ExportFilter",
    "export_messages",
    "export_to_path",
    "neutralise",
]

COLUMNS = (
    "conversation",
    "flow",
    "flow_version",
    "question_id",
    "direction",
    "text",
    "time",
    "channel",
    "language",
    "themes",  # free-text answers: "theme:confidence" joined by ";" (CSV), a list (JSONL)
    "sentiment",  # positive, negative, mixed or neutral, with its confidence
    "sentiment_confidence",
)
FORMATS = ("csv", "jsonl", "xlsx")
# What each column means: written as the XLSX's second sheet, and served beside CSV and JSONL.
DATA_DICTIONARY = (
    ("conversation", "Random id of one conversation (not linked to any person)"),
    ("flow", "Which flow (survey) the conversation ran"),
    ("flow_version", "Version of that flow: questions may change between versions"),
    ("question_id", "The question a parent's message answered, or the bot asked ('' for none)"),
    ("direction", "in: the parent wrote it; out: the bot sent it"),
    ("text", "The message, with names, numbers, addresses and dates replaced by [TYPE_n]"),
    ("time", "When it was sent, UTC, ISO 8601"),
    ("channel", "telegram, sms, whatsapp or web"),
    ("language", "The conversation's language (ISO 639-1)"),
    ("themes", "Free-text answers: the seven themes it was coded to, each with a confidence 0-1"),
    ("sentiment", "Free-text answers: positive, negative, mixed or neutral (automatic coding)"),
    ("sentiment_confidence", "How sure the automatic coding was, 0-1"),
)

# Rows fetched from the database per round trip; small enough to keep memory flat, large enough
# that round trips do not dominate.
_BATCH = 1000
# OWASP "CSV injection": a spreadsheet runs a cell starting with any of these as a formula (tab and
# carriage return too, because some spreadsheets strip them and then see the character after).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# AuditEntry.actor is String(64); checked up front so an export never fails at the audit step.
_ACTOR_MAX = 64


@dataclass(frozen=True)
class ExportFilter:
    """Which messages to export. Dates are inclusive and compare the message's UTC date."""

    flow_id: str | None = None
    since: date | None = None
    until: date | None = None


def neutralise(cell: str) -> str:
    """Prefix ``cell`` with a single quote if a spreadsheet would run it as a formula."""
    if cell.startswith(_FORMULA_STARTS):
        return "'" + cell
    return cell


async def export_messages(
    sessions: async_sessionmaker[AsyncSession],
    fmt: str,
    out: BinaryIO,
    flt: ExportFilter,
    actor: str,
    now: datetime,
) -> int:
    """Write every message matching ``flt`` to the binary stream ``out`` and audit the export.

    ``fmt`` is ``"csv"`` (UTF-8 with BOM, header row, formula cells neutralised) or ``"jsonl"``
    (``flow_version`` stays a number). ``actor`` names who ran it in the audit log; ``now`` is when.
    Returns the number of rows written. Raises ``ParentVoiceError`` for an unknown format,
    ``since`` after ``until``, or a missing or too long actor, before anything is written. If the
    database fails part way, ``out`` holds a partial export and nothing is audited.

    Writes to ``out`` are synchronous; give it a local file or buffer, not a slow network stream.
    """
    _check(fmt, flt, actor)
    writers: dict[str, Callable[[BinaryIO], _RowWriter]] = {
        "csv": _CsvRows, "jsonl": _JsonlRows, "xlsx": _XlsxRows,
    }  # fmt: skip
    writer = writers[fmt](out)
    rows = 0
    async with sessions() as session:
        result = await session.stream(_query(flt).execution_options(yield_per=_BATCH))
        async for row in result:
            writer.write(_record(row))
            rows += 1
    writer.close()
    out.flush()
    # Audited once the rows are out, so the count is the real one; a separate short transaction so
    # the long streaming read never holds a write lock.
    async with sessions.begin() as session:
        session.add(
            AuditEntry(
                at=as_utc(now),
                actor=actor,
                action="export",
                detail={
                    "format": fmt,
                    "flow": flt.flow_id,
                    "since": flt.since.isoformat() if flt.since else None,
                    "until": flt.until.isoformat() if flt.until else None,
                    "rows": rows,
                },
            )
        )
    return rows


async def export_to_path(
    sessions: async_sessionmaker[AsyncSession],
    fmt: str,
    path: Path | str,
    flt: ExportFilter,
    actor: str,
    now: datetime,
) -> int:
    """Like ``export_messages`` but to a file at ``path``, which appears only once complete.

    The file is written beside ``path`` under a temporary name, readable only by its owner (it holds
    what parents said), and renamed into place after the export is audited; on any failure no file
    is left behind and an existing file at ``path`` is untouched. Returns the number of rows.
    """
    # Validate before creating anything, so an operator's typo leaves no empty file.
    _check(fmt, flt, actor)
    target = Path(path)
    try:
        # mkstemp creates the file with mode 0600.
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".part", dir=target.parent
        )
    except OSError as exc:  # a missing or read-only directory is the operator's to fix
        raise ParentVoiceError(f"cannot write export to {target}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as out:
            rows = await export_messages(sessions, fmt, out, flt, actor, now)
            os.fsync(out.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return rows


def _check(fmt: str, flt: ExportFilter, actor: str) -> None:
    if fmt not in FORMATS:
        raise ParentVoiceError(f"unknown export format {fmt!r}: use csv, jsonl or xlsx")
    if flt.since is not None and flt.until is not None and flt.since > flt.until:
        raise ParentVoiceError(
            f"export start date {flt.since.isoformat()} is after its end date "
            f"{flt.until.isoformat()}: both dates are inclusive, so use the same date for one day"
        )
    if not actor or len(actor) > _ACTOR_MAX:
        raise ParentVoiceError(
            f"export actor must be 1 to {_ACTOR_MAX} characters (who is running it), got {actor!r}"
        )


def _query(flt: ExportFilter) -> Select[Any]:
    stmt = (
        select(
            Conversation.public_id,
            Conversation.flow_id,
            Conversation.flow_version,
            Message.question_id,
            Message.direction,
            Message.text,
            Message.created_at,
            Conversation.channel,
            Conversation.language,
            Answer.themes,
            Answer.sentiment,
            Answer.sentiment_confidence,
        )
        .join(Conversation, Message.conversation_id == Conversation.id)
        # The coding of an answer belongs on the parent's message that gave it.
        .outerjoin(
            Answer,
            and_(
                Message.direction == "in",
                Answer.conversation_id == Message.conversation_id,
                Answer.question_id == Message.question_id,
                Answer.value == Message.text,
            ),
        )
        # Only what parents agreed to share: a chat that never got past the consent question
        # (its "hi", or a STOP) is not research data.
        .where(Conversation.consented_at.is_not(None))
        .order_by(Conversation.public_id, Message.created_at, Message.id)
    )
    if flt.flow_id is not None:
        stmt = stmt.where(Conversation.flow_id == flt.flow_id)
    # Half-open UTC bounds: [since 00:00Z, the day after until 00:00Z) includes all of ``until``,
    # down to the last microsecond, and lets the (conversation_id, created_at) index serve it.
    if flt.since is not None:
        stmt = stmt.where(Message.created_at >= _midnight_utc(flt.since))
    if flt.until is not None and flt.until < date.max:
        stmt = stmt.where(Message.created_at < _midnight_utc(flt.until + timedelta(days=1)))
    return stmt


def _midnight_utc(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _record(row: Sequence[Any]) -> dict[str, Any]:
    (
        public_id, flow, version, question, direction, text, created_at, channel, language,
        themes, sentiment, sentiment_confidence,
    ) = row  # fmt: skip
    return {
        "conversation": public_id,
        "flow": flow,
        "flow_version": version,
        # Same empty string in both formats, so readers need not handle null as well.
        "question_id": question or "",
        "direction": direction,
        "text": text,
        "time": as_utc(created_at).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "channel": channel,
        "language": language,
        "themes": [{"theme": t, "confidence": c} for t, c in themes or ()],
        "sentiment": sentiment or "",
        "sentiment_confidence": sentiment_confidence if sentiment_confidence is not None else "",
    }


class _RowWriter(Protocol):
    def write(self, record: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class _CsvRows:
    """CSV that Excel opens correctly: UTF-8 BOM, CRLF, and no cell that runs as a formula."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        # The csv module writes text; each row is encoded into ``out`` as soon as it is formatted.
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        out.write(codecs.BOM_UTF8)
        self._emit(COLUMNS)

    def write(self, record: dict[str, Any]) -> None:
        cells = dict(record)
        cells["themes"] = ";".join(f"{t['theme']}:{t['confidence']}" for t in record["themes"])
        self._emit([neutralise(str(cells[column])) for column in COLUMNS])

    def _emit(self, values: Sequence[str]) -> None:
        self._csv.writerow(values)
        self._out.write(self._buffer.getvalue().encode("utf-8"))
        self._buffer.seek(0)
        self._buffer.truncate()

    def close(self) -> None:
        pass


class _XlsxRows:
    """An Excel workbook: the messages on one sheet, the data dictionary on a second. Written in
    openpyxl's streaming mode; cells that would run as formulas are neutralised as in CSV."""

    def __init__(self, out: BinaryIO) -> None:
        from openpyxl import Workbook  # only exports need it

        self._out = out
        self._book = Workbook(write_only=True)
        self._sheet = self._book.create_sheet("Messages")
        self._sheet.append(list(COLUMNS))

    def write(self, record: dict[str, Any]) -> None:
        cells = dict(record)
        cells["themes"] = ";".join(f"{t['theme']}:{t['confidence']}" for t in record["themes"])
        self._sheet.append(
            [
                cells[c] if isinstance(cells[c], int | float) else neutralise(str(cells[c]))
                for c in COLUMNS
            ]
        )

    def close(self) -> None:
        dictionary = self._book.create_sheet("Data dictionary")
        dictionary.append(["column", "meaning"])
        for row in DATA_DICTIONARY:
            dictionary.append(list(row))
        self._book.save(self._out)


class _JsonlRows:
    """One JSON object per line, keys in ``COLUMNS`` order, UTF-8 without a BOM.

    No formula neutralisation: JSON is read by programs that parse it, not opened as spreadsheet
    cells, and prefixing a quote would change the data those programs see.
    """

    # json.dumps escapes every control character but, with ensure_ascii=False, leaves NEL and the
    # Unicode line and paragraph separators raw; str.splitlines() and some JSONL readers split on
    # them, so they are escaped too (still valid JSON, same value after json.loads).
    _LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})

    def __init__(self, out: BinaryIO) -> None:
        self._out = out

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False)
        self._out.write((line.translate(self._LINE_BREAKS) + "\n").encode("utf-8"))

    def close(self) -> None:
        pass
