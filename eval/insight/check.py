#!/usr/bin/env python3
"""Validate the insight evaluation sets and print their counts.

    python eval/insight/check.py            # checks risk.jsonl and themes.jsonl next to this file
    python eval/insight/check.py DIR        # checks DIR/risk.jsonl and DIR/themes.jsonl

Exits 1 if any check fails. These files are evaluation data:
never train on them (see README.md).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

SPLITS = ("dev", "test")

# The labels are the project's own: the same ids the app and the training data use.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bot.safeguarding import CATEGORIES as RISK_CATEGORIES  # noqa: E402
from flows.spec import THEMES  # noqa: E402

RISK_KINDS = ("disclosure", "hard_negative", "ordinary")
RISK_FIELDS = {"id", "split", "text", "risk", "categories", "kind"}

SENTIMENTS = ("positive", "negative", "mixed", "neutral")
THEME_FIELDS = {"id", "split", "text", "themes", "sentiment"}

# Minimums per split.
MIN_DISCLOSURES = 150
MIN_PER_CATEGORY = 25
MIN_HARD_NEGATIVES = 150
MIN_ORDINARY = 100
MIN_THEME_MESSAGES = 250
MIN_PER_THEME = 40
MIN_PER_SENTIMENT = 30


def normalise(text: str) -> str:
    """Key used for duplicate detection: lower case, letters/digits only, single spaces."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


class Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, msg: str) -> None:
        self.errors.append(msg)

    def load(self, path: Path) -> list[dict]:
        rows = []
        if not path.exists():
            self.error(f"{path}: missing")
            return rows
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    self.error(f"{path.name}:{n}: blank line")
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    self.error(f"{path.name}:{n}: invalid JSON ({exc})")
                    continue
                if not isinstance(row, dict):
                    self.error(f"{path.name}:{n}: not a JSON object")
                    continue
                row["_line"] = n
                rows.append(row)
        return rows

    def common(self, rows: list[dict], name: str, prefix: str, fields: set[str]) -> None:
        ids: Counter = Counter()
        texts: dict[str, set[str]] = {}
        for r in rows:
            where = f"{name}:{r['_line']}"
            keys = set(r) - {"_line"}
            if keys != fields:
                self.error(f"{where}: fields {sorted(keys)} != {sorted(fields)}")
            split = r.get("split")
            if split not in SPLITS:
                self.error(f"{where}: bad split {split!r}")
            rid = r.get("id")
            if not isinstance(rid, str) or not re.fullmatch(rf"{prefix}-(dev|test)-\d{{4}}", rid):
                self.error(f"{where}: bad id {rid!r}")
            elif rid.split("-")[1] != split:
                self.error(f"{where}: id {rid} does not match split {split!r}")
            ids[rid] += 1
            text = r.get("text")
            if not isinstance(text, str) or not text.strip():
                self.error(f"{where}: empty or non-string text")
                continue
            if text != text.strip():
                self.error(f"{where}: leading/trailing whitespace in text")
            texts.setdefault(normalise(text), set()).add(f"{split}:{rid}")
        for rid, k in ids.items():
            if k > 1:
                self.error(f"{name}: id {rid} used {k} times")
        for key, where in texts.items():
            splits = {w.split(":")[0] for w in where}
            if len(splits) > 1:
                self.error(f"{name}: text appears in both splits: {sorted(where)} {key!r}")
            elif len(where) > 1:
                self.error(f"{name}: duplicate text within a split: {sorted(where)} {key!r}")

    def check_risk(self, rows: list[dict]) -> None:
        self.common(rows, "risk.jsonl", "risk", RISK_FIELDS)
        print("risk.jsonl")
        for split in SPLITS:
            part = [r for r in rows if r.get("split") == split]
            kinds = Counter(r.get("kind") for r in part)
            cats: Counter = Counter()
            multi = 0
            for r in part:
                where = f"risk.jsonl:{r['_line']}"
                kind, risk, c = r.get("kind"), r.get("risk"), r.get("categories")
                if kind not in RISK_KINDS:
                    self.error(f"{where}: bad kind {kind!r}")
                if not isinstance(risk, bool):
                    self.error(f"{where}: risk must be true/false")
                if not isinstance(c, list) or any(x not in RISK_CATEGORIES for x in c):
                    self.error(f"{where}: bad categories {c!r}")
                    continue
                if len(set(c)) != len(c):
                    self.error(f"{where}: repeated category")
                if kind == "disclosure":
                    if risk is not True or not c:
                        self.error(f"{where}: a disclosure needs risk=true and >=1 category")
                    multi += len(c) > 1
                else:
                    if risk is not False or c:
                        self.error(f"{where}: {kind} needs risk=false and no categories")
                cats.update(c)
            n_disc = kinds["disclosure"]
            print(
                f"  {split}: {len(part)} messages | disclosures {n_disc} "
                f"(multi-category {multi}) | hard_negative {kinds['hard_negative']} "
                f"| ordinary {kinds['ordinary']}"
            )
            for cat in RISK_CATEGORIES:
                print(f"      {cat:<26} {cats[cat]:>4}")
                if cats[cat] < MIN_PER_CATEGORY:
                    self.error(f"risk {split}: {cat} has {cats[cat]} < {MIN_PER_CATEGORY}")
            if n_disc < MIN_DISCLOSURES:
                self.error(f"risk {split}: {n_disc} disclosures < {MIN_DISCLOSURES}")
            if kinds["hard_negative"] < MIN_HARD_NEGATIVES:
                self.error(
                    f"risk {split}: {kinds['hard_negative']} hard negatives < {MIN_HARD_NEGATIVES}"
                )
            if kinds["ordinary"] < MIN_ORDINARY:
                self.error(f"risk {split}: {kinds['ordinary']} ordinary < {MIN_ORDINARY}")

    def check_themes(self, rows: list[dict]) -> None:
        self.common(rows, "themes.jsonl", "themes", THEME_FIELDS)
        print("themes.jsonl")
        for split in SPLITS:
            part = [r for r in rows if r.get("split") == split]
            themes: Counter = Counter()
            sents: Counter = Counter()
            n_themes: Counter = Counter()
            for r in part:
                where = f"themes.jsonl:{r['_line']}"
                t, s = r.get("themes"), r.get("sentiment")
                if not isinstance(t, list) or any(x not in THEMES for x in t):
                    self.error(f"{where}: bad themes {t!r}")
                    continue
                if len(set(t)) != len(t):
                    self.error(f"{where}: repeated theme")
                if s not in SENTIMENTS:
                    self.error(f"{where}: bad sentiment {s!r}")
                themes.update(t)
                sents[s] += 1
                n_themes[min(len(t), 2)] += 1
            n = len(part)

            def pct(k: int, n: int = n) -> str:
                return f"{100 * k / n:.0f}%" if n else "-"

            print(
                f"  {split}: {n} messages | no theme {n_themes[0]} ({pct(n_themes[0])}) "
                f"| one theme {n_themes[1]} | 2+ themes {n_themes[2]} ({pct(n_themes[2])})"
            )
            for th in THEMES:
                print(f"      {th:<32} {themes[th]:>4}")
                if themes[th] < MIN_PER_THEME:
                    self.error(f"themes {split}: {th} has {themes[th]} < {MIN_PER_THEME}")
            print("      sentiment: " + ", ".join(f"{s} {sents[s]}" for s in SENTIMENTS))
            for s in SENTIMENTS:
                if sents[s] < MIN_PER_SENTIMENT:
                    self.error(
                        f"themes {split}: sentiment {s} has {sents[s]} < {MIN_PER_SENTIMENT}"
                    )
            if n < MIN_THEME_MESSAGES:
                self.error(f"themes {split}: {n} messages < {MIN_THEME_MESSAGES}")


def main(argv: list[str]) -> int:
    base = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    c = Checker()
    c.check_risk(c.load(base / "risk.jsonl"))
    c.check_themes(c.load(base / "themes.jsonl"))
    if c.errors:
        print(f"\nFAILED: {len(c.errors)} problem(s)")
        for e in c.errors[:200]:
            print("  " + e)
        return 1
    print("\nOK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
