"""Merge translation drafts into the project: `python tools/merge_translations.py DIR L...`

Writes the flow's and the fixed messages' texts, the control phrases for Rasa
(nlu/data/nlu_languages.yml), the "change language" requests (bot/wordlists/language_requests.txt)
and the safeguarding phrases (bot/wordlists/safeguarding_phrases.tsv).

DIR holds one ``texts_<L>.yaml`` per language, keyed like the English source (flow_intro,
flow_outro, questions.<id>, options.<question>.<option>, messages.<key>). Each language is added
as ``draft`` (README: drafts need professional review before live use); a language already
marked ``reviewed`` is left alone. The files are rewritten in a stable layout: the header comment
is kept, other comments are not.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
FLOW = ROOT / "flows" / "hcp_experience.yaml"
MESSAGES = ROOT / "flows" / "messages.yaml"


def _header(path: Path) -> str:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    return "".join(lines[:first])


def _dump(path: Path, data: dict[str, Any]) -> None:
    body = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    path.write_text(_header(path) + body, encoding="utf-8")


def merge(folder: Path, language: str) -> None:
    texts = yaml.safe_load((folder / f"texts_{language}.yaml").read_text(encoding="utf-8"))
    flow = yaml.safe_load(FLOW.read_text(encoding="utf-8"))
    if flow["languages"].get(language) != "reviewed":
        flow["languages"][language] = "draft"
        flow["name"][language] = texts.get("flow_name") or flow["name"]["en"]
        flow["intro"][language] = texts["flow_intro"]
        flow["outro"][language] = texts["flow_outro"]
        for question in flow["questions"]:
            question["text"][language] = texts["questions"][question["id"]]
            for option in question.get("options") or []:
                option["label"][language] = texts["options"][f"{question['id']}.{option['id']}"]
        _dump(FLOW, flow)
    messages = yaml.safe_load(MESSAGES.read_text(encoding="utf-8"))
    if messages["languages"].get(language) != "reviewed":
        messages["languages"][language] = "draft"
        for key, by_language in messages["texts"].items():
            by_language[language] = texts["messages"][key]
        _dump(MESSAGES, messages)


NLU_OUT = ROOT / "nlu" / "data" / "nlu_languages.yml"
REQUESTS_OUT = ROOT / "bot" / "wordlists" / "language_requests.txt"
PHRASES_OUT = ROOT / "bot" / "wordlists" / "safeguarding_phrases.tsv"
DRAFT = (
    "# DRAFT machine-assisted translations: need review by a professional translator before "
    "live use.\n"
)


def merge_nlu(folder: Path, codes: list[str]) -> None:
    """The control phrases of every language, as one Rasa NLU file (the chat's model is
    character n-grams, so one model serves every language); "language" requests go to the app's
    own list instead (bot.languages.wants_menu)."""
    taken = {
        line.strip()[2:].casefold()
        for line in (ROOT / "nlu" / "data" / "nlu.yml").read_text(encoding="utf-8").splitlines()
        if line.strip().startswith("- ")
    }
    by_intent: dict[str, list[str]] = {}
    requests: list[str] = []
    for code in codes:
        data = yaml.safe_load((folder / f"nlu_{code}.yaml").read_text(encoding="utf-8"))
        for block in data["nlu"]:
            for line in str(block["examples"]).splitlines():
                text = line.strip()[2:].strip() if line.strip().startswith("- ") else ""
                if not text or text.casefold() in taken:
                    continue
                taken.add(text.casefold())
                if block["intent"] == "language":
                    requests.append(text)
                else:
                    by_intent.setdefault(block["intent"], []).append(text)
    lines = [
        DRAFT.rstrip("\n"),
        "# Control phrases in Polish, Romanian, Urdu, Bengali (with romanised forms) and Arabic.",
        'version: "3.1"',
        "nlu:",
    ]
    for intent, texts in by_intent.items():
        lines += [f"- intent: {intent}", "  examples: |"] + [f"    - {t}" for t in texts]
    NLU_OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    REQUESTS_OUT.write_text(DRAFT + "".join(f"{t}\n" for t in requests), encoding="utf-8")


def merge_phrases(folder: Path, codes: list[str]) -> None:
    """Safeguarding phrases per language and category, one TSV for bot.safeguarding."""
    rows = []
    for code in codes:
        for line in (folder / f"safeguarding_{code}.txt").read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#") and "\t" in line:
                category, phrase = line.split("\t", 1)
                rows.append(f"{code}\t{category.strip()}\t{phrase.strip()}\n")
    PHRASES_OUT.write_text(
        DRAFT + "# language<TAB>category<TAB>phrase\n" + "".join(rows), encoding="utf-8"
    )


if __name__ == "__main__":
    source, languages = Path(sys.argv[1]), sys.argv[2:]
    for language in languages:
        merge(source, language)
    merge_nlu(source, languages)
    merge_phrases(source, languages)
