"""Score safeguarding and coding on the held-out sets in eval/insight: `make eval-insight`.

Prints, per split:
- risk recall and false-alarm rate (on hard benign messages, and on ordinary feedback) for the
  pattern layer, the classifier layer, Rasa's NLU layer (the chat's trained model, on the redacted
  text, as in the app) and all three together, which is what the app runs;
- per-theme precision, recall and F1, and macro-F1; sentiment accuracy.

The models are trained from nlu/insight/ only. Exit status 1 if a target of issue D is not met:
risk recall >= 0.98 with <= 10% false alarms on hard benign messages, theme macro-F1 >= 0.80,
sentiment accuracy >= 0.85 (on the whole set).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from bot.insight import THEME_THRESHOLD, THEMES, models  # noqa: E402
from bot.rasa_process import model_hash  # noqa: E402
from bot.redact import Redactor  # noqa: E402
from bot.safeguarding import CATEGORIES, Safeguarding, patterns_match, rasa_categories  # noqa: E402
from bot.safeguarding import CLASSIFIER_THRESHOLD as RISK_THRESHOLD  # noqa: E402

ROOT = HERE.parents[1]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"


def rasa_rankings(texts: list[str]) -> dict[str, list[dict]]:
    """Rasa's intent ranking for each text, redacted first as the app does, from the chat's
    current model (var/models, built by `make train`) via eval/insight/rasa_nlu.py in .venv-rasa."""
    model = ROOT / "var" / "models" / f"parentvoice-{model_hash(ROOT / 'nlu')}.tar.gz"
    if not model.exists() or not RASA_PYTHON.exists():
        raise SystemExit(f"no Rasa model at {model.relative_to(ROOT)}: run `make train` first")
    redactor = Redactor(b"eval-insight")
    redacted = [" ".join(redactor.redact(text).text.split()) for text in texts]
    result = subprocess.run(
        [str(RASA_PYTHON), str(HERE / "rasa_nlu.py"), "parse", "--model", str(model)],
        input="".join(json.dumps({"text": t}) + "\n" for t in redacted),
        capture_output=True,
        text=True,
        check=False,
    )
    answers = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0 or len(answers) != len(texts):
        raise SystemExit(f"rasa_nlu.py parse failed:\n{result.stderr[-2000:]}")
    return {text: answer["ranking"] for text, answer in zip(texts, answers, strict=True)}


def load(name: str) -> list[dict]:
    with (HERE / name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def risk_table(cases: list[dict], layers: dict[str, Callable[[str], tuple[str, ...]]]) -> dict:
    print("| layer | recall | false alarms, hard benign | false alarms, ordinary |")
    print("|---|---|---|---|")
    results = {}
    for name, detect in layers.items():
        flagged = {c["id"]: bool(detect(c["text"])) for c in cases}
        positives = [c for c in cases if c["risk"]]
        hard = [c for c in cases if not c["risk"] and c["kind"] == "hard_negative"]
        ordinary = [c for c in cases if not c["risk"] and c["kind"] == "ordinary"]
        recall = sum(flagged[c["id"]] for c in positives) / len(positives)
        fa_hard = sum(flagged[c["id"]] for c in hard) / len(hard)
        fa_ordinary = sum(flagged[c["id"]] for c in ordinary) / len(ordinary)
        print(f"| {name} | {recall:.3f} | {fa_hard:.3f} | {fa_ordinary:.3f} |")
        results[name] = (recall, fa_hard)
    return results


def theme_table(cases: list[dict]) -> tuple[float, float]:
    trained = models()
    coded = {c["id"]: trained.code(c["text"]) for c in cases}
    print("| theme | precision | recall | F1 | n |")
    print("|---|---|---|---|---|")
    f1s = []
    for theme in THEMES:
        predicted = {i for i, coding in coded.items() if theme in dict(coding.themes)}
        gold = {c["id"] for c in cases if theme in c["themes"]}
        tp = len(predicted & gold)
        precision = tp / len(predicted) if predicted else 0.0
        recall = tp / len(gold) if gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1s.append(f1)
        print(f"| {theme} | {precision:.2f} | {recall:.2f} | {f1:.2f} | {len(gold)} |")
    macro = sum(f1s) / len(f1s)
    accuracy = sum(coded[c["id"]].sentiment == c["sentiment"] for c in cases) / len(cases)
    print(f"| **macro-F1** | | | **{macro:.3f}** | |")
    print(f"\nsentiment accuracy: {accuracy:.3f}")
    return macro, accuracy


def main() -> int:
    started = time.perf_counter()
    trained = models()
    print(f"trained the models from nlu/insight/ in {time.perf_counter() - started:.1f} s")
    layered = Safeguarding(trained.risk.scores, RISK_THRESHOLD)
    risk = load("risk.jsonl")
    themes = load("themes.jsonl")
    started = time.perf_counter()
    rankings = rasa_rankings([c["text"] for c in risk])
    print(f"Rasa's NLU parsed {len(rankings)} messages in {time.perf_counter() - started:.1f} s")

    def in_app(text: str) -> tuple[str, ...]:
        """All three layers, as the app runs them."""
        found = set(layered.assess(text)) | set(rasa_categories(rankings[text]))
        return tuple(c for c in CATEGORIES if c in found)

    layers = {
        "patterns": patterns_match,
        "classifier": lambda text: (
            ("risk",) if trained.risk.scores(text)["risk"] >= RISK_THRESHOLD else ()
        ),
        "rasa nlu": lambda text: rasa_categories(rankings[text]),
        "patterns + classifier": layered.assess,
        "all three (the app)": in_app,
    }
    for split in ("dev", "test", "all"):
        risk_cases = [c for c in risk if split in ("all", c["split"])]
        theme_cases = [c for c in themes if split in ("all", c["split"])]
        print(f"\n## {split}: {len(risk_cases)} risk messages, {len(theme_cases)} answers\n")
        risk_results = risk_table(risk_cases, layers)
        for category in CATEGORIES:
            cases = [c for c in risk_cases if category in c["categories"]]
            found = sum(category in in_app(c["text"]) for c in cases)
            print(f"- {category}: {found}/{len(cases)} flagged with this category")
        print()
        macro, accuracy = theme_table(theme_cases)
    started = time.perf_counter()
    for case in themes:
        trained.code(case["text"])
        layered.assess(case["text"])
    per_message = 1000 * (time.perf_counter() - started) / len(themes)
    print(
        f"\n{per_message:.2f} ms per message (safeguarding and coding; theme cut {THEME_THRESHOLD})"
    )
    recall, false_alarms = risk_results["all three (the app)"]
    checks = {
        "risk recall >= 0.98": recall >= 0.98,
        "false alarms on hard benign <= 0.10": false_alarms <= 0.10,
        "theme macro-F1 >= 0.80": macro >= 0.80,
        "sentiment accuracy >= 0.85": accuracy >= 0.85,
    }
    print()
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
