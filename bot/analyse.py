"""`parentvoice analyse`: safeguarding, themes and sentiment for comments, from stdin or a CSV.

For each comment: the safeguarding check reads the raw text (in memory), then the text is
redacted, and themes and sentiment are coded on the redacted text, as the app does for answers.
Each comment is its own conversation: names are not carried from one comment to the next.

The CSV mode is for comments collected elsewhere, such as a Friends and Family Test export. The
named column is replaced by its redacted text, so the output file holds no names or numbers that
were in it, and the other columns are copied as they are.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from bot.errors import ParentVoiceError
from bot.export import neutralise
from bot.insight import InsightModels
from bot.redact import Redactor
from bot.safeguarding import Safeguarding

__all__ = ["ADDED_COLUMNS", "Analyser", "analyse_csv", "analyse_lines"]

ADDED_COLUMNS = ("risk", "risk_categories", "themes", "sentiment", "sentiment_confidence")


class Analyser:
    """Redaction, safeguarding and coding of one comment at a time."""

    def __init__(self, key: bytes, models: InsightModels) -> None:
        self._redactor = Redactor(key)
        self._models = models
        self._safeguarding = Safeguarding(models.risk.scores)

    def analyse(self, raw: str) -> dict[str, Any]:
        categories = self._safeguarding.assess(raw)
        redacted = self._redactor.redact(raw).text
        coding = self._models.code(redacted) if redacted.strip() else None
        return {
            "text": redacted,
            "risk": bool(categories),
            "risk_categories": list(categories),
            "themes": [theme for theme, _ in coding.themes] if coding else [],
            "sentiment": coding.sentiment if coding else "neutral",
            "sentiment_confidence": coding.sentiment_confidence if coding else 1.0,
        }


def analyse_lines(lines: Iterable[str], analyser: Analyser) -> Iterator[str]:
    """One JSON object per input line, in order (an empty line gives an empty analysis)."""
    for line in lines:
        line = line.rstrip("\n").rstrip("\r")
        result = analyser.analyse(line)
        yield json.dumps(
            {k: result[k] for k in ("text", "risk", "risk_categories", "themes", "sentiment")},
            ensure_ascii=False,
        )


def analyse_csv(
    source: Path,
    column: str,
    target: Path,
    analyser: Analyser,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Analyse ``column`` of every row of ``source`` into ``target``; returns the row count.

    ``target`` appears only when complete. Raises ``ParentVoiceError`` with a clear message for a
    missing file, a file that is not UTF-8 CSV, or a column that is not there.
    """
    rows = _read_rows(source, column)
    fieldnames = list(rows[0].keys()) if rows else [column]
    added = [c for c in ADDED_COLUMNS if c not in fieldnames]
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow(fieldnames + added)
            for done, row in enumerate(rows, start=1):
                result = analyser.analyse(row.get(column) or "")
                row = dict(row)
                row[column] = result["text"]
                row["risk"] = "yes" if result["risk"] else "no"
                row["risk_categories"] = ";".join(result["risk_categories"])
                row["themes"] = ";".join(result["themes"])
                row["sentiment"] = result["sentiment"]
                row["sentiment_confidence"] = str(result["sentiment_confidence"])
                writer.writerow([neutralise(str(row.get(c) or "")) for c in fieldnames + added])
                if progress is not None:
                    progress(done, len(rows))
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return len(rows)


def _read_rows(source: Path, column: str) -> list[dict[str, str]]:
    try:
        with source.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None:
                raise ParentVoiceError(
                    f"{source} is empty: expected a header row naming {column!r}"
                )
            if column not in reader.fieldnames:
                raise ParentVoiceError(
                    f"{source} has no column {column!r}; its columns are: "
                    + ", ".join(repr(name) for name in reader.fieldnames)
                )
            return list(reader)
    except FileNotFoundError as exc:
        raise ParentVoiceError(f"no such file: {source}") from exc
    except UnicodeDecodeError as exc:
        raise ParentVoiceError(
            f"{source} is not UTF-8 text: save it from Excel as 'CSV UTF-8' and try again"
        ) from exc
    except csv.Error as exc:
        raise ParentVoiceError(f"{source} is not a readable CSV file: {exc}") from exc


class ProgressBar:
    """A one-line progress bar on a terminal; occasional plain lines when not on one."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self._stream = stream
        self._width = width
        self._tty = stream.isatty()
        self._started = time.monotonic()
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < (0.1 if self._tty else 5.0):
            return
        self._last = now
        share = done / total if total else 1.0
        filled = int(share * self._width)
        rate = done / max(now - self._started, 1e-9)
        line = f"[{'#' * filled}{'.' * (self._width - filled)}] {done}/{total} rows ({rate:.0f}/s)"
        if self._tty:
            self._stream.write("\r" + line + ("\n" if done >= total else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
