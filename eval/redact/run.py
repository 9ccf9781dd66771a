"""Score redactors on the project's synthetic evaluation set: `make eval-redact`.

For each redactor, in one process and one run, over the same messages:

- recall per identifier type: an identifier counts as removed only if every visible character of
  it is inside a redacted span (a surname left behind is a leak, whatever the type given to it);
- must-keep retention: the share of must-keep terms (services, hospital names, durations,
  weekdays...) left untouched;
- milliseconds per message, warm, as the mean over the whole set.

Our redactor keeps one ``RedactionState`` per conversation, as the app does; Presidio has no such
memory and sees each message alone. Presidio is scored when it is installed (`.venv-bench`, see
``eval/redact/requirements-presidio.txt``); `--require-presidio` makes its absence an error.

Exit status: 0 if our redactor meets the targets of issue C on the whole set, 1 if not.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # the repository root, for `bot`

from bot.redact import RedactionState, Redactor  # noqa: E402

CASES = HERE / "cases.jsonl"
STRUCTURED = ("PHONE", "NHS_NUMBER", "EMAIL", "POSTCODE", "DATE", "ADDRESS", "NI_NUMBER", "URL")
TARGETS = {"structured": 1.00, "PERSON": 0.99, "keep": 0.98}
SPEED_RATIO_TARGET = 3.0
WORD_RE = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")

Span = tuple[int, int]
# A redactor under test: (conversation id, text) -> redacted character spans.
Detector = Callable[[str, str], list[Span]]


@dataclass
class Score:
    """Counts for one redactor on one split."""

    found: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)
    kept: int = 0
    keep_total: int = 0
    words_kept: int = 0  # ordinary words (outside every identifier) left untouched
    words_total: int = 0
    seconds: float = 0.0
    messages: int = 0
    misses: list[tuple[str, str, str]] = field(default_factory=list)  # (type, value, message)
    lost: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, term, message)
    words_lost: list[str] = field(default_factory=list)

    def recall(self, types: Iterable[str]) -> float:
        types = list(types)
        total = sum(self.total[t] for t in types)
        return sum(self.found[t] for t in types) / total if total else 1.0

    @property
    def retention(self) -> float:
        return self.kept / self.keep_total if self.keep_total else 1.0

    @property
    def word_retention(self) -> float:
        return self.words_kept / self.words_total if self.words_total else 1.0

    @property
    def ms_per_message(self) -> float:
        return 1000 * self.seconds / self.messages if self.messages else 0.0


def load_cases(path: Path = CASES) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def covered(start: int, end: int, text: str, spans: list[Span]) -> bool:
    """Is every visible character of text[start:end] inside one of ``spans``?"""
    return all(text[i].isspace() or any(s <= i < e for s, e in spans) for i in range(start, end))


def touched(start: int, end: int, spans: list[Span]) -> bool:
    return any(s < end and start < e for s, e in spans)


def ours(key: bytes = b"eval-key-not-a-secret-0123456789") -> Detector:
    redactor = Redactor(key)
    states: defaultdict[str, RedactionState] = defaultdict(RedactionState)

    def detect(conversation: str, text: str) -> list[Span]:
        result = redactor.redact(text, states[conversation])
        return [(e.start, e.end) for e in result.entities]

    return detect


def presidio() -> Detector | None:
    try:
        from eval.redact.presidio_engine import analyze, build_analyzer
    except ImportError:
        return None
    analyzer = build_analyzer()

    def detect(conversation: str, text: str) -> list[Span]:
        return [(start, end) for _, start, end in analyze(analyzer, text)]

    return detect


def score(detect: Detector, cases: list[dict], keep_examples: int = 0) -> Score:
    result = Score()
    for case in cases:  # warm up: first calls build caches and load lazily
        detect("warm-up", case["text"])
        break
    for case in cases:
        text = case["text"]
        started = time.perf_counter()
        spans = detect(case["conversation"], text)
        result.seconds += time.perf_counter() - started
        result.messages += 1
        for entity in case["entities"]:
            kind = entity["type"]
            result.total[kind] += 1
            if covered(entity["start"], entity["end"], text, spans):
                result.found[kind] += 1
            elif len(result.misses) < keep_examples:
                result.misses.append((kind, entity["text"], text))
        identifiers = [(e["start"], e["end"]) for e in case["entities"]]
        for word in WORD_RE.finditer(text):
            if touched(word.start(), word.end(), identifiers):
                continue
            result.words_total += 1
            if not touched(word.start(), word.end(), spans):
                result.words_kept += 1
            elif len(result.words_lost) < keep_examples:
                result.words_lost.append(word.group())
        for term in case["keep"]:
            result.keep_total += 1
            if not touched(term["start"], term["end"], spans):
                result.kept += 1
            elif len(result.lost) < keep_examples:
                result.lost.append((term["kind"], term["text"], text))
    return result


def report(scores: dict[str, Score], title: str) -> None:
    names = list(scores)
    print(f"\n## {title}\n")
    print("| | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    first = scores[names[0]]
    kinds = [k for k in ("PERSON", *STRUCTURED) if first.total[k]]
    for kind in kinds:
        cells = [
            f"{s.recall([kind]):.3f} ({s.found[kind]}/{s.total[kind]})" for s in scores.values()
        ]
        print(f"| recall {kind} | " + " | ".join(cells) + " |")
    cells = [f"{s.recall(STRUCTURED):.3f}" for s in scores.values()]
    print("| recall, all structured | " + " | ".join(cells) + " |")
    cells = [f"{s.retention:.3f} ({s.kept}/{s.keep_total})" for s in scores.values()]
    print("| must-keep retained | " + " | ".join(cells) + " |")
    cells = [f"{s.word_retention:.3f} ({s.words_kept}/{s.words_total})" for s in scores.values()]
    print("| other words kept | " + " | ".join(cells) + " |")
    cells = [f"{s.ms_per_message:.3f}" for s in scores.values()]
    print("| ms per message | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=CASES)
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all")
    parser.add_argument("--no-presidio", action="store_true", help="score our redactor only")
    parser.add_argument("--require-presidio", action="store_true")
    parser.add_argument("--misses", type=int, default=0, help="print this many misses of ours")
    args = parser.parse_args(argv)

    cases = load_cases(args.cases)
    splits = ["dev", "test"] if args.split == "all" else [args.split]
    detectors: dict[str, Detector] = {}
    if not args.no_presidio:
        baseline = presidio()
        if baseline is None and args.require_presidio:
            print("Presidio is not installed: run `make eval-redact`", file=sys.stderr)
            return 2
        if baseline is not None:
            detectors["Presidio"] = baseline

    print(
        f"{len(cases)} messages, {sum(len(c['entities']) for c in cases)} identifiers, "
        f"{sum(len(c['keep']) for c in cases)} must-keep terms"
    )
    overall: dict[str, Score] = {}
    for split in splits:
        subset = [c for c in cases if c["split"] == split]
        scores = {"ours": score(ours(), subset, keep_examples=args.misses)}
        for name, detect in detectors.items():
            scores[name] = score(detect, subset)
        report(scores, f"split: {split} ({len(subset)} messages)")
        for name, value in scores.items():
            merged = overall.setdefault(name, Score())
            merged.found.update(value.found)
            merged.total.update(value.total)
            merged.kept += value.kept
            merged.words_kept += value.words_kept
            merged.words_total += value.words_total
            merged.keep_total += value.keep_total
            merged.seconds += value.seconds
            merged.messages += value.messages
        if args.misses:
            for kind, value, text in scores["ours"].misses:
                print(f"MISS {kind:10} {value!r:28} in {text!r}")
            for kind, value, text in scores["ours"].lost:
                print(f"LOST {kind:10} {value!r:28} in {text!r}")
            print("WORDS", " ".join(scores["ours"].words_lost))
    if len(splits) > 1:
        report(overall, "whole set")

    mine = overall["ours"]
    checks = {
        "structured recall 1.00": mine.recall(STRUCTURED) >= TARGETS["structured"],
        "person recall >= 0.99": mine.recall(["PERSON"]) >= TARGETS["PERSON"],
        "must-keep retained >= 0.98": mine.retention >= TARGETS["keep"],
    }
    if "Presidio" in overall:
        ratio = overall["Presidio"].ms_per_message / max(mine.ms_per_message, 1e-9)
        print(f"\nours is {ratio:.1f}x faster per message than Presidio in this run")
        checks[f"{SPEED_RATIO_TARGET:.0f}x faster than Presidio"] = ratio >= SPEED_RATIO_TARGET
    print()
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
