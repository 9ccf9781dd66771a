"""Flow definitions: load → migrate → validate. Errors name the flow and the question.

A flow is a short sequence of questions; its texts are keyed by language from day one.
``messages.yaml`` holds the fixed texts (help, stop, ...) every flow shares.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.errors import FlowError
from bot.segments import segments, ucs2_characters

SPEC_VERSION = 1
QUESTION_TYPES = ("consent", "choice", "text")
CONSENT_KINDS = ("research", "followup")
REQUIRED_MESSAGES = (
    "help",
    "stopped",
    "paused",
    "resumed",
    "restarted",
    "confirm_delete",
    "deleted",
    "delete_cancelled",
    "declined",
    "media",
    "invalid_choice",
    "invalid_yes_no",
    "finished",
    "too_long",
    # Sent by the app itself, never by Rasa: the one gentle reminder to a parent who stopped
    # part-way, the thanks for a reply to an outcome ("you said, we did"), and "bear with us"
    # to a parent whose message has waited more than 30 seconds (Rasa down, say).
    "reminder",
    "outcome_reply_thanks",
    "held",
    # Signposting for a possible disclosure, one per safeguarding category. {emergency},
    # {urgent_medical}, {samaritans}, {shout}, {domestic_abuse} and {nspcc} are filled in from the
    # deployment's config (safeguarding.helplines).
    "safeguarding_medical_emergency",
    "safeguarding_self_harm",
    "safeguarding_perinatal_mental_health",
    "safeguarding_domestic_abuse",
    "safeguarding_child_at_risk",
)
THEMES = (  # the seven themes parents raised (../shared/seeds, HCP commissioning guide)
    "signposting",
    "clarity_about_the_system",
    "communication_parent_as_expert",
    "consistency_of_provision",
    "coordination_of_services",
    "consistency_of_information",
    "timely_support",
)
_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_QUESTIONS = 9  # "under 10 questions, about 5 minutes"

Texts = dict[str, str]  # language -> text


@dataclass(frozen=True)
class Option:
    id: str
    label: Texts


@dataclass(frozen=True)
class Question:
    id: str
    type: str
    text: Texts
    options: tuple[Option, ...] = ()
    optional: bool = False
    themes: tuple[str, ...] = ()
    consent: str = "research"  # for type consent: what is being agreed to

    def rendered(self, lang: str) -> str:
        """The text a parent sees, with numbered options, as sent on every channel."""
        text = self.text[lang]
        if self.options:
            text += "\n" + "\n".join(f"{i}. {o.label[lang]}" for i, o in enumerate(self.options, 1))
        return text


@dataclass(frozen=True)
class Flow:
    id: str
    version: int
    name: Texts
    languages: dict[str, str]  # language -> "draft" | "reviewed"
    intro: Texts
    questions: tuple[Question, ...]
    outro: Texts

    def question(self, question_id: str) -> Question | None:
        """The question with this id, or None."""
        return next((q for q in self.questions if q.id == question_id), None)


@dataclass(frozen=True)
class Messages:
    languages: dict[str, str]
    texts: dict[str, Texts]

    def text(self, key: str, lang: str) -> str:
        """A fixed text in ``lang``, falling back to English."""
        texts = self.texts[key]
        return texts.get(lang) or texts["en"]


@dataclass(frozen=True)
class Warning_:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def migrate(raw: dict[str, Any], where: str) -> dict[str, Any]:
    """Bring an older spec_version up to date (there is only version 1 so far)."""
    version = raw.get("spec_version")
    if version != SPEC_VERSION:
        raise FlowError([f"{where}: spec_version must be {SPEC_VERSION}, got {version!r}"])
    return raw


def _texts(raw: Any, where: str, langs: list[str], problems: list[str]) -> Texts:
    if not isinstance(raw, dict):
        problems.append(f"{where}: texts must be a mapping of language to text")
        return {}
    for lang in langs:
        value = raw.get(lang)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{where}: missing text for language {lang!r}")
    return {str(k): str(v).strip() for k, v in raw.items() if isinstance(v, str)}


def parse_flow(raw: Any, source: str) -> Flow:
    """Validate one flow mapping; raise ``FlowError`` listing every problem."""
    if not isinstance(raw, dict):
        raise FlowError([f"{source}: a flow file must contain a mapping"])
    flow_id = raw.get("id")
    where = f"flow {flow_id!r}" if isinstance(flow_id, str) else source
    raw = migrate(raw, where)
    problems: list[str] = []
    if not isinstance(flow_id, str) or not _ID.match(flow_id):
        problems.append(f"{where}: id must be lower_snake_case, got {flow_id!r}")
    version = raw.get("version")
    if not isinstance(version, int) or version < 1:
        problems.append(f"{where}: version must be a positive whole number")
    languages = raw.get("languages")
    if not isinstance(languages, dict) or "en" not in languages:
        problems.append(f"{where}: languages must map each language to draft or reviewed, with en")
        languages = {"en": "reviewed"}
    for lang, status in languages.items():
        if status not in ("draft", "reviewed"):
            problems.append(f"{where}: language {lang!r} must be draft or reviewed, got {status!r}")
    langs = list(languages)
    name = _texts(raw.get("name"), f"{where} name", langs, problems)
    intro = _texts(raw.get("intro"), f"{where} intro", langs, problems)
    outro = _texts(raw.get("outro"), f"{where} outro", langs, problems)

    questions: list[Question] = []
    raw_questions = raw.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        problems.append(f"{where}: questions must be a non-empty list")
        raw_questions = []
    if len(raw_questions) > MAX_QUESTIONS:
        problems.append(
            f"{where}: {len(raw_questions)} questions; keep it to {MAX_QUESTIONS} or fewer"
        )
    seen: set[str] = set()
    for index, rq in enumerate(raw_questions, 1):
        qwhere = f"{where} question {index}"
        if not isinstance(rq, dict):
            problems.append(f"{qwhere}: must be a mapping")
            continue
        qid = rq.get("id")
        if isinstance(qid, str):
            qwhere = f"{where} question {qid!r}"
        if not isinstance(qid, str) or not _ID.match(qid):
            problems.append(f"{qwhere}: id must be lower_snake_case, got {qid!r}")
            qid = f"q{index}"
        if qid in seen:
            problems.append(f"{qwhere}: duplicate question id")
        seen.add(qid)
        qtype = rq.get("type")
        if qtype not in QUESTION_TYPES:
            problems.append(
                f"{qwhere}: type must be one of {', '.join(QUESTION_TYPES)}, got {qtype!r}"
            )
        text = _texts(rq.get("text"), f"{qwhere} text", langs, problems)
        options: list[Option] = []
        if qtype == "choice":
            raw_options = rq.get("options")
            if not isinstance(raw_options, list) or len(raw_options) < 2:
                problems.append(f"{qwhere}: a choice needs at least two options")
                raw_options = []
            for oi, ro in enumerate(raw_options, 1):
                oid = ro.get("id") if isinstance(ro, dict) else None
                if not isinstance(oid, str) or not _ID.match(oid):
                    problems.append(f"{qwhere} option {oi}: id must be lower_snake_case")
                    continue
                label = _texts(ro.get("label"), f"{qwhere} option {oid!r} label", langs, problems)
                options.append(Option(id=oid, label=label))
        elif "options" in rq:
            problems.append(f"{qwhere}: only choice questions have options")
        themes = rq.get("themes", [])
        if not isinstance(themes, list) or any(t not in THEMES for t in themes):
            problems.append(f"{qwhere}: themes must be a list drawn from {', '.join(THEMES)}")
            themes = []
        consent = rq.get("consent", "research")
        if qtype == "consent" and consent not in CONSENT_KINDS:
            problems.append(f"{qwhere}: consent must be one of {', '.join(CONSENT_KINDS)}")
        optional = rq.get("optional", False)
        if not isinstance(optional, bool):
            problems.append(f"{qwhere}: optional must be true or false")
            optional = False
        questions.append(
            Question(
                id=qid,
                type=str(qtype),
                text=text,
                options=tuple(options),
                optional=optional,
                themes=tuple(themes),
                consent=str(consent),
            )
        )
    if questions and not (questions[0].type == "consent" and questions[0].consent == "research"):
        problems.append(f"{where}: the first question must ask for consent (type consent)")
    if problems:
        raise FlowError(problems)
    return Flow(
        id=str(flow_id),
        version=int(version),
        name=name,
        languages=dict(languages),
        intro=intro,
        questions=tuple(questions),
        outro=outro,
    )


def parse_messages(raw: Any, source: str) -> Messages:
    """Validate the fixed texts; every required key in every language."""
    if not isinstance(raw, dict):
        raise FlowError([f"{source}: must contain a mapping"])
    migrate(raw, source)
    problems: list[str] = []
    languages = raw.get("languages") or {"en": "reviewed"}
    texts_raw = raw.get("texts")
    if not isinstance(texts_raw, dict):
        raise FlowError([f"{source}: texts must be a mapping"])
    texts: dict[str, Texts] = {}
    for key in REQUIRED_MESSAGES:
        if key not in texts_raw:
            problems.append(f"{source}: missing text {key!r}")
            continue
        texts[key] = _texts(texts_raw[key], f"{source} text {key!r}", list(languages), problems)
    if problems:
        raise FlowError(problems)
    return Messages(languages=dict(languages), texts=texts)


@dataclass(frozen=True)
class FlowSet:
    flows: dict[str, Flow]
    messages: Messages


def load_flows(directory: Path) -> FlowSet:
    """Load, migrate and validate every ``*.yaml`` flow in ``directory`` and its messages.yaml."""
    problems: list[str] = []
    flows: dict[str, Flow] = {}
    messages: Messages | None = None
    for path in sorted(directory.glob("*.yaml")):
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            problems.append(f"{path.name}: not valid YAML: {exc}")
            continue
        try:
            if path.name == "messages.yaml":
                messages = parse_messages(raw, path.name)
            else:
                flow = parse_flow(raw, path.name)
                if flow.id in flows:
                    problems.append(f"flow {flow.id!r}: defined twice ({path.name})")
                flows[flow.id] = flow
        except FlowError as exc:
            problems.extend(exc.problems)
    if messages is None and not any("messages.yaml" in p for p in problems):
        problems.append(f"{directory}: messages.yaml is missing")
    if not flows and not problems:
        problems.append(f"{directory}: no flows found")
    if problems:
        raise FlowError(problems)
    assert messages is not None
    return FlowSet(flows=flows, messages=messages)


@dataclass(frozen=True)
class SegmentCount:
    """How one text travels by SMS in one language."""

    where: str  # "flow 'x' question 'y' [en]" or "messages 'help' [en]"
    segments: int
    encoding: str  # "GSM-7" or "UCS-2"
    forcing: str  # the characters that force UCS-2, if any
    language: str = "en"


MAX_SEGMENTS = 2  # above this a message is costly and arrives in pieces on older phones


def segment_report(flow_set: FlowSet) -> list[SegmentCount]:
    """Every question and fixed text, per language, measured in SMS segments."""
    report: list[SegmentCount] = []
    for flow in flow_set.flows.values():
        for q in flow.questions:
            for lang in flow.languages:
                report.append(
                    _measure(f"flow {flow.id!r} question {q.id!r} [{lang}]", q.rendered(lang))
                )
    for key, texts in flow_set.messages.texts.items():
        for lang, text in texts.items():
            report.append(_measure(f"messages {key!r} [{lang}]", text))
    return report


def english_texts(flow_set: FlowSet) -> list[tuple[str, str]]:
    """(where, text) for every English text parents read: intros, questions, outros, messages."""
    found: list[tuple[str, str]] = []
    for flow in flow_set.flows.values():
        found.append((f"flow {flow.id!r} intro [en]", flow.intro["en"]))
        found += [
            (f"flow {flow.id!r} question {q.id!r} [en]", q.text["en"]) for q in flow.questions
        ]
        found.append((f"flow {flow.id!r} outro [en]", flow.outro["en"]))
    for key, texts in flow_set.messages.texts.items():
        found.append((f"messages {key!r} [en]", texts["en"]))
    return found


def _measure(where: str, text: str) -> SegmentCount:
    count, encoding = segments(text)
    language = where.rsplit("[", 1)[-1].rstrip("]")
    forcing = "".join(sorted(set(ucs2_characters(text))))
    return SegmentCount(where, count, encoding, forcing, language)


def lint(flow_set: FlowSet) -> list[Warning_]:
    """Advice that does not block: texts over two SMS segments, or English with a character forcing
    UCS-2 (one curly quote or emoji more than halves what fits in a segment). Other languages'
    own letters need UCS-2 anyway, so only their length is advised on."""
    warnings: list[Warning_] = []
    for item in segment_report(flow_set):
        if item.forcing and item.language == "en":
            warnings.append(
                Warning_(item.where, f"{item.forcing!r} forces UCS-2 ({item.segments} segments)")
            )
        if item.segments > MAX_SEGMENTS:
            warnings.append(
                Warning_(item.where, f"{item.segments} SMS segments; keep it to {MAX_SEGMENTS}")
            )
    return warnings
