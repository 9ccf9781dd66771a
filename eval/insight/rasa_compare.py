"""Rasa NLU against our own classifier for coding answers to themes and sentiment.

    make eval-insight-rasa          # or: .venv/bin/python eval/insight/rasa_compare.py [--skip-diet]

The product issue asks for themes and sentiment to be served by Rasa, or by another model measured
to be better. This script measures it: it trains Rasa NLU models on the same examples our
classifier learns from (``nlu/insight/``, the files ``bot.insight`` reads; never ``eval/insight/``)
and scores both on the same held-out sets, with the same formulas, as ``make eval-insight``.

Candidates, all trained in a temporary directory through ``eval/insight/rasa_nlu.py`` (which runs
in ``.venv-rasa``, since Rasa 3.6 cannot be imported here):

- **Rasa LR**: the project's pipeline from ``nlu/config.yml`` (CountVectors over char n-grams and
  words, LogisticRegressionClassifier) without its FallbackClassifier and dialogue policies.
  Themes are 8 intents (the seven themes and ``no_theme``); an example with several themes is
  repeated under each, so the softmax learns to split its mass between them. A theme is coded when
  its confidence reaches a threshold chosen on the ``dev`` split. ``top intent`` reads only the
  single best intent, which is what Rasa gives a dialogue by default. Sentiment is a 4-intent model.
- **Rasa DIET multi-intent**: each example's themes joined into one intent (``a+b``), DIET with
  ``intent_tokenization_flag`` so related combinations share what they learn; the top intent is
  split on ``+``. Skipped with a message when training exceeds ``--diet-timeout`` seconds.

"Ours" is ``bot.insight.models().code`` (the weights the app serves); its figures are cross-checked
against ``eval/insight/run.py``'s own table and the script stops if they differ. Dev figures of the
threshold variant are optimistic (the threshold was fitted there; ours was too); ``test`` is the
honest comparison. Training times are in-process; "wall" adds the interpreter and TensorFlow
start-up. Parse times are per message round trips to a loaded model, after one warm-up message.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE)]

import run as insight_eval  # noqa: E402  (eval/insight/run.py: the scoring `make eval-insight` prints)

from bot.insight import (  # noqa: E402
    FEEDBACK_FILES,
    SENTIMENTS,
    THEME_THRESHOLD,
    THEMES,
    InsightModels,
    feedback_examples,
    models,
)

RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
RASA_NLU = HERE / "rasa_nlu.py"
PROJECT_CONFIG = ROOT / "nlu" / "config.yml"
NO_THEME = "no_theme"
SEED = 7
DIET_EPOCHS = 100  # as bench/rasa_pipeline.py; Rasa's default of 300 would triple the time
THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 20))  # the dev grid for Rasa LR themes
SPLITS = ("dev", "test")
# Rasa reads "[text](entity)", "[text]{...}" and "[text][...]" in training examples as entity
# markup; a training text like that would silently lose words.
_ENTITY_MARKUP = re.compile(r"\[[^\]]+\][({\[]")


# --- Training data and configs -------------------------------------------------------------------


def _themes_of(example: dict[str, Any]) -> list[str]:
    """An example's themes in the canonical order of THEMES (so `a+b` never also appears as `b+a`)."""
    given = set(example.get("themes") or [])
    return [theme for theme in THEMES if theme in given]


def themes_repeated(examples: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """Intent -> texts for a single-label classifier: a multi-theme text under each of its themes."""
    intents: dict[str, list[str]] = {theme: [] for theme in (*THEMES, NO_THEME)}
    for example in examples:
        for theme in _themes_of(example) or [NO_THEME]:
            intents[theme].append(example["text"])
    return intents


def themes_combined(examples: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """Intent -> texts for Rasa's multi-intent: one intent per combination of themes (`a+b`)."""
    intents: dict[str, list[str]] = {}
    for example in examples:
        name = "+".join(_themes_of(example)) or NO_THEME
        intents.setdefault(name, []).append(example["text"])
    return intents


def sentiments(examples: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """Intent -> texts for the 4-intent sentiment model."""
    intents: dict[str, list[str]] = {sentiment: [] for sentiment in SENTIMENTS}
    for example in examples:
        intents[example["sentiment"]].append(example["text"])
    return intents


def nlu_yaml(intents: dict[str, list[str]]) -> str:
    """Rasa 3 NLU training data. Texts are written as one line each, as Rasa's format needs."""
    blocks = []
    for intent, texts in intents.items():
        lines = []
        for text in texts:
            flat = " ".join(text.split())
            if _ENTITY_MARKUP.search(flat):
                raise ValueError(f"Rasa would read entity markup in this training text: {flat!r}")
            lines.append(f"- {flat}\n")
        blocks.append({"intent": intent, "examples": "".join(lines)})
    return yaml.safe_dump(
        {"version": "3.1", "nlu": blocks}, sort_keys=False, allow_unicode=True, width=1 << 20
    )


def lr_config() -> dict[str, Any]:
    """The project's pipeline (nlu/config.yml), NLU only: no FallbackClassifier, which would
    replace low-confidence answers by `nlu_fallback`, and no policies. The classifier returns
    its full ranking, and its random_state is pinned."""
    config = yaml.safe_load(PROJECT_CONFIG.read_text(encoding="utf-8"))
    pipeline = [step for step in config["pipeline"] if step["name"] != "FallbackClassifier"]
    for step in pipeline:
        if step["name"] == "LogisticRegressionClassifier":
            step.update(ranking_length=0, random_state=step.get("random_state", SEED))
    return {
        "recipe": "default.v1",
        "assistant_id": "parentvoice-insight-lr",
        "language": config.get("language", "en"),
        "pipeline": pipeline,
    }


def diet_config() -> dict[str, Any]:
    """The project's tokenizer and featurizers with DIET for multi-intent classification."""
    base = lr_config()["pipeline"]
    pipeline: list[dict[str, Any]] = []
    for step in base:
        if step["name"] == "WhitespaceTokenizer":
            pipeline.append({**step, "intent_tokenization_flag": True, "intent_split_symbol": "+"})
        elif step["name"] != "LogisticRegressionClassifier":
            pipeline.append(step)
    pipeline.append(
        {
            "name": "DIETClassifier",
            "epochs": DIET_EPOCHS,
            "random_seed": SEED,
            "ranking_length": 0,
            "entity_recognition": False,
        }
    )
    return {
        "recipe": "default.v1",
        "assistant_id": "parentvoice-insight-diet",
        "language": "en",
        "pipeline": pipeline,
    }


# --- Talking to Rasa (eval/insight/rasa_nlu.py in .venv-rasa) ------------------------------------


@dataclass(frozen=True)
class Trained:
    model: Path
    train_s: float  # training alone, as reported by rasa_nlu.py
    wall_s: float  # the whole subprocess, interpreter and imports included


@dataclass(frozen=True)
class Parsed:
    rankings: list[dict[str, float]]  # intent -> confidence, one per text
    top: list[str]
    load_s: float  # start until the warm-up message was answered
    ms_per_message: float


def _rasa_env() -> dict[str, str]:
    """No telemetry, quiet TensorFlow, and a fixed hash seed so runs repeat."""
    env = dict(os.environ)
    env.update(RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0")
    return env


def _tail(log: Path, lines: int = 15) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _progress(log: Path) -> str:
    """How far Rasa's epoch progress bar got, from a training log ('' if it shows none)."""
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    bars = re.findall(r"Epochs:.*?\| (\d+)/(\d+) \[", text)
    return f" (reached epoch {bars[-1][0]} of {bars[-1][1]})" if bars else ""


def rasa_train(
    workdir: Path,
    name: str,
    config: dict[str, Any],
    intents: dict[str, list[str]],
    timeout: float | None = None,
) -> Trained:
    """Write ``name``'s config and data under ``workdir`` and train it in .venv-rasa.

    Raises subprocess.TimeoutExpired (the child is killed) when ``timeout`` seconds pass.
    """
    folder = workdir / name
    folder.mkdir()
    (folder / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    (folder / "nlu.yml").write_text(nlu_yaml(intents), encoding="utf-8")
    log = folder / "train.log"
    command = [str(RASA_PYTHON), str(RASA_NLU), "train", "--config", str(folder / "config.yml")]
    command += ["--data", str(folder / "nlu.yml"), "--out", str(folder / "models")]
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as stderr:
        done = subprocess.run(
            command,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=_rasa_env(),
            cwd=folder,
            timeout=timeout,
            check=False,
        )
    wall = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        how = f"killed by signal {-done.returncode}" if done.returncode < 0 else "failed"
        raise RuntimeError(f"training {how} (exit {done.returncode}):\n{_tail(log)}")
    reported = re.search(r"trained in ([0-9.]+) s", done.stdout)
    return Trained(Path(lines[-1]), float(reported.group(1)) if reported else wall, wall)


def rasa_parse(model: Path, texts: Sequence[str]) -> Parsed:
    """Parse ``texts`` with one long-lived ``rasa_nlu.py parse`` process, one line at a time,
    timing each round trip after a warm-up message has waited for the model to load."""
    log = model.parent / f"parse-{model.stem}.log"
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            [str(RASA_PYTHON), str(RASA_NLU), "parse", "--model", str(model)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            encoding="utf-8",
            env=_rasa_env(),
            cwd=model.parent,
        )
        requests, replies = process.stdin, process.stdout
        assert requests is not None and replies is not None

        def ask(text: str) -> dict[str, Any]:
            requests.write(json.dumps({"text": text}) + "\n")
            requests.flush()
            line = replies.readline()
            if not line:
                raise RuntimeError(f"rasa_nlu.py parse stopped:\n{_tail(log)}")
            answer: dict[str, Any] = json.loads(line)
            return answer

        try:
            ask("warm up")
            load_s = time.perf_counter() - started
            started = time.perf_counter()
            answers = [ask(text) for text in texts]
            elapsed = time.perf_counter() - started
        finally:
            requests.close()
            process.wait(timeout=60)
    return Parsed(
        rankings=[{r["name"]: r["confidence"] for r in a["ranking"]} for a in answers],
        top=[a["intent"] for a in answers],
        load_s=load_s,
        ms_per_message=1000 * elapsed / max(1, len(texts)),
    )


# --- Scoring (the formulas of eval/insight/run.py) -----------------------------------------------


@dataclass(frozen=True)
class Scores:
    f1: dict[str, float]  # per theme
    macro_f1: float
    sentiment: float | None  # accuracy; None when the variant has no sentiment model
    themes_on_no_theme: int  # no-theme answers given a theme anyway


def theme_f1(cases: Sequence[dict[str, Any]], predicted: Sequence[set[str]]) -> dict[str, float]:
    """Per-theme F1 over the answers, as run.py computes it (precision 0 when nothing predicted)."""
    f1s = {}
    for theme in THEMES:
        said = {i for i, themes in enumerate(predicted) if theme in themes}
        gold = {i for i, case in enumerate(cases) if theme in case["themes"]}
        tp = len(said & gold)
        precision = tp / len(said) if said else 0.0
        recall = tp / len(gold) if gold else 0.0
        f1s[theme] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return f1s


def score(
    cases: Sequence[dict[str, Any]],
    themes: Sequence[set[str]],
    sentiment: Sequence[str] | None,
) -> Scores:
    f1 = theme_f1(cases, themes)
    accuracy = None
    if sentiment is not None:
        accuracy = sum(s == c["sentiment"] for s, c in zip(sentiment, cases, strict=True)) / len(
            cases
        )
    return Scores(
        f1=f1,
        macro_f1=sum(f1.values()) / len(f1),
        sentiment=accuracy,
        themes_on_no_theme=sum(
            bool(t) for t, c in zip(themes, cases, strict=True) if not c["themes"]
        ),
    )


def above(rankings: Sequence[dict[str, float]], threshold: float) -> list[set[str]]:
    """Every theme whose confidence reaches ``threshold`` (``no_theme`` is never a theme)."""
    return [
        {t for t, p in ranking.items() if t in THEMES and p >= threshold} for ranking in rankings
    ]


def choose_threshold(
    cases: Sequence[dict[str, Any]], rankings: Sequence[dict[str, float]]
) -> float:
    """The grid threshold with the best macro-F1 on ``cases`` (the dev split); the lowest wins ties."""
    return max(THRESHOLDS, key=lambda t: (score(cases, above(rankings, t), None).macro_f1, -t))


def check_ours(cases: Sequence[dict[str, Any]], mine: Scores) -> None:
    """Stop unless our figures for ours equal what `make eval-insight` prints for these cases."""
    with contextlib.redirect_stdout(io.StringIO()):
        macro, accuracy = insight_eval.theme_table(list(cases))
    if abs(macro - mine.macro_f1) > 1e-9 or abs(accuracy - (mine.sentiment or 0.0)) > 1e-9:
        raise SystemExit(
            f"scoring differs from eval/insight/run.py: macro-F1 {mine.macro_f1} vs {macro}, "
            f"sentiment {mine.sentiment} vs {accuracy}"
        )


# --- Report --------------------------------------------------------------------------------------


def _cell(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def print_scores(split: str, n: int, columns: dict[str, Scores]) -> None:
    print(f"\n## {split}: {n} answers\n")
    print("| | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    rows: list[tuple[str, Callable[[Scores], str]]] = [
        ("**theme macro-F1**", lambda s: f"**{s.macro_f1:.3f}**"),
        *((f"F1 {t}", lambda s, t=t: f"{s.f1[t]:.2f}") for t in THEMES),
        ("themes put on no-theme answers", lambda s: str(s.themes_on_no_theme)),
        ("**sentiment accuracy**", lambda s: f"**{_cell(s.sentiment)}**"),
    ]
    for label, cell in rows:
        print(f"| {label} | " + " | ".join(cell(s) for s in columns.values()) + " |")


def print_timing(rows: list[tuple[str, str, str, str, str]]) -> None:
    print("\n## Cost\n")
    print("| model | train s | train s, wall | load s | parse ms/message |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


# --- Main ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One Rasa model to train and parse the held-out texts with."""

    name: str
    config: dict[str, Any]
    intents: dict[str, list[str]]
    timeout: float | None = None
    optional: bool = False  # a failure is reported and skipped instead of stopping the run


def our_predictions(texts: Sequence[str]) -> tuple[list[set[str]], list[str], float, float]:
    """Ours as the app serves it: themes, sentiments, training seconds and ms per message.

    Training is timed on a fresh ``InsightModels.train()``, which trains the risk model too
    (there is no public way to train themes and sentiment alone); predictions come from
    ``models()``, the cached weights ``make eval-insight`` scores."""
    started = time.perf_counter()
    InsightModels.train()
    train_s = time.perf_counter() - started
    served = models()
    started = time.perf_counter()
    codings = [served.code(text) for text in texts]
    ms = 1000 * (time.perf_counter() - started) / len(texts)
    return [{t for t, _ in c.themes} for c in codings], [c.sentiment for c in codings], train_s, ms


def run_rasa(jobs: Sequence[Job], texts: Sequence[str]) -> dict[str, tuple[Trained, Parsed]]:
    """Train each job's model in a temporary directory and parse ``texts`` with it. An optional
    job that fails or runs out of time is skipped with the reason printed."""
    runs: dict[str, tuple[Trained, Parsed]] = {}
    with tempfile.TemporaryDirectory(prefix="pv-rasa-compare-") as tmp:
        workdir = Path(tmp)
        for job in jobs:
            print(f"training {job.name}: {len(job.intents)} intents ...", flush=True)
            try:
                trained = rasa_train(workdir, job.name, job.config, job.intents, job.timeout)
                runs[job.name] = (trained, rasa_parse(trained.model, texts))
            except (subprocess.TimeoutExpired, RuntimeError) as error:
                if not job.optional:
                    raise
                if isinstance(error, subprocess.TimeoutExpired):
                    reason = f"training took more than {job.timeout:.0f} s"
                else:
                    reason = str(error).splitlines()[0].rstrip(":")
                progress = _progress(workdir / job.name / "train.log")
                print(f"skipped {job.name}: {reason}{progress}")
    return runs


def rasa_columns(
    cases: Sequence[dict[str, Any]], runs: dict[str, tuple[Trained, Parsed]]
) -> tuple[dict[str, list[set[str]]], dict[str, list[str] | None]]:
    """Themes and sentiment per case for each Rasa variant, keyed by the column's name."""
    dev = [i for i, case in enumerate(cases) if case["split"] == "dev"]
    lr_themes, lr_sentiment = runs["lr-themes"][1], runs["lr-sentiment"][1].top
    threshold = choose_threshold([cases[i] for i in dev], [lr_themes.rankings[i] for i in dev])
    cut = f"Rasa LR (cut {threshold} on dev)"
    themes: dict[str, list[set[str]]] = {
        cut: above(lr_themes.rankings, threshold),
        "Rasa LR top intent": [{top} & set(THEMES) for top in lr_themes.top],
    }
    sentiment: dict[str, list[str] | None] = {cut: lr_sentiment, "Rasa LR top intent": lr_sentiment}
    if "diet-themes" in runs:
        diet = runs["diet-themes"][1].top
        themes["Rasa DIET multi-intent"] = [set(top.split("+")) & set(THEMES) for top in diet]
        sentiment["Rasa DIET multi-intent"] = None
    return themes, sentiment


def print_comparison(
    cases: Sequence[dict[str, Any]],
    themes: dict[str, list[set[str]]],
    sentiment: dict[str, list[str] | None],
    ours: str,
) -> None:
    """One table per split; the ``ours`` column is first checked against eval/insight/run.py."""
    for split in SPLITS:
        index = [i for i, case in enumerate(cases) if case["split"] == split]
        subset = [cases[i] for i in index]
        columns = {}
        for name, predicted in themes.items():
            said = sentiment[name]
            columns[name] = score(
                subset,
                [predicted[i] for i in index],
                None if said is None else [said[i] for i in index],
            )
        check_ours(subset, columns[ours])
        print_scores(split, len(subset), columns)
    print("\nBoth Rasa LR columns share one 4-intent sentiment model (its top intent).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-diet", action="store_true", help="do not train the DIET variant")
    parser.add_argument(
        "--diet-timeout", type=float, default=600.0, help="give up DIET after this many seconds"
    )
    args = parser.parse_args(argv)
    if not os.access(RASA_PYTHON, os.X_OK):
        print(
            f"rasa_compare.py: {RASA_PYTHON.relative_to(ROOT)} is missing: run `make setup` "
            "(Rasa 3.6 lives in its own Python 3.10 venv).",
            file=sys.stderr,
        )
        return 2

    cases = insight_eval.load("themes.jsonl")
    texts = [case["text"] for case in cases]
    examples = feedback_examples()
    print(f"{len(examples)} training examples from nlu/insight/{{{','.join(FEEDBACK_FILES)}}}")
    print(f"{len(cases)} held-out answers (eval/insight/themes.jsonl)")

    our_themes, our_sentiment, our_train_s, our_ms = our_predictions(texts)
    jobs = [
        Job("lr-themes", lr_config(), themes_repeated(examples)),
        Job("lr-sentiment", lr_config(), sentiments(examples)),
    ]
    if not args.skip_diet:
        jobs.append(
            Job("diet-themes", diet_config(), themes_combined(examples), args.diet_timeout, True)
        )
    runs = run_rasa(jobs, texts)

    ours = f"ours (cut {THEME_THRESHOLD})"
    themes, sentiment = rasa_columns(cases, runs)
    print_comparison(cases, {ours: our_themes, **themes}, {ours: our_sentiment, **sentiment}, ours)
    cost = [("ours: themes + sentiment (+ risk)", f"{our_train_s:.1f}", "—", "—", f"{our_ms:.2f}")]
    for name, (trained, parsed) in runs.items():
        cost.append(
            (
                f"Rasa {name}",
                f"{trained.train_s:.1f}",
                f"{trained.wall_s:.1f}",
                f"{parsed.load_s:.1f}",
                f"{parsed.ms_per_message:.2f}",
            )
        )
    print_timing(cost)
    print(
        "\nRasa parse figures are per model: serving themes and sentiment from Rasa LR takes "
        "both models' times."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
