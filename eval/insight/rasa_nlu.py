"""Train and query a Rasa NLU model from the command line; runs INSIDE .venv-rasa (Rasa 3.6).

Rasa 3.6 pins its own dependencies and Python 3.10, so the app's venv cannot import it. This
script is the narrow bridge: the app-side code (``eval/insight/rasa_compare.py``, and anyone
scoring the app's main Rasa model) runs it as a subprocess and talks JSON lines.

    .venv-rasa/bin/python eval/insight/rasa_nlu.py train --config CONFIG.yml --data DIR_OR_FILE --out DIR
        Trains an NLU-only model. The LAST stdout line is the path of the model archive; the line
        before it reads ``trained in <seconds> s`` (training alone, without the interpreter's
        start-up). Rasa's own messages and its epoch progress bar go to stderr.

    .venv-rasa/bin/python eval/insight/rasa_nlu.py parse --model MODEL.tar.gz
        Loads the model once, then for each JSON line ``{"text": ...}`` on stdin writes one JSON
        line ``{"intent": name, "confidence": float, "ranking": [{"name", "confidence"}, ...]}``
        to stdout, flushed at once, so a caller may send one line and wait for its answer. The
        ranking is whatever the model returns: set the classifier's ``ranking_length: 0`` in its
        config to get every intent. Blank input lines are skipped. Rasa's logs go to stderr.

No network: telemetry is switched off before Rasa is imported, and training uses a throw-away
training cache, so each run starts cold (honest training times) and nothing is left in the
working directory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import IO, Any

# Before any Rasa import: Rasa reads these when its modules load or when it first reports.
os.environ["RASA_TELEMETRY_ENABLED"] = "false"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")


def _configure_logging(level: int) -> None:
    """Set Rasa's log level. Training logs at INFO (it shows the epoch progress bar); parsing at
    WARNING, because Rasa's debug log would repeat every parsed text (a parent's answer) and slow
    parsing down. Call with stdout already pointed at stderr: Rasa's logging writes to whatever
    ``sys.stdout`` is when it is configured."""
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(level)
    configure_structlog(level)


def train(config: str, data: str, out: str) -> tuple[str, float]:
    """Train an NLU-only model from ``config`` and ``data`` into ``out``.

    Returns the model archive's path and the seconds spent training. Rasa's training cache goes
    to a temporary directory (unless RASA_CACHE_DIRECTORY is set by the caller), so a second run
    on the same data is not a cache hit that only looks fast.
    """
    with tempfile.TemporaryDirectory(prefix="rasa-cache-") as cache:
        os.environ.setdefault("RASA_CACHE_DIRECTORY", cache)
        from rasa.model_training import train_nlu

        _configure_logging(logging.INFO)

        started = time.perf_counter()
        model = train_nlu(config=config, nlu_data=data, output=out)
        seconds = time.perf_counter() - started
    if not model:
        raise SystemExit(f"rasa_nlu.py: Rasa trained no model from {data} with {config}")
    return str(model), seconds


def _requests(stream: IO[str]) -> Iterator[str]:
    """The texts of the JSON lines on ``stream``, read one line at a time (never read ahead,
    so an interactive caller gets each answer before it sends the next line)."""
    for number, line in enumerate(iter(stream.readline, ""), start=1):
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            text = request["text"]
        except (ValueError, KeyError, TypeError) as error:
            raise SystemExit(
                f"rasa_nlu.py: input line {number} is not {{'text': ...}}: {error}"
            ) from None
        yield str(text)


def _answer(parsed: dict[str, Any]) -> dict[str, Any]:
    """Rasa's parse result reduced to the intent, its confidence and the intent ranking."""
    intent = parsed.get("intent") or {}
    ranking = parsed.get("intent_ranking") or ([intent] if intent.get("name") else [])
    return {
        "intent": intent.get("name"),
        "confidence": float(intent.get("confidence") or 0.0),
        "ranking": [
            {"name": item["name"], "confidence": float(item["confidence"])} for item in ranking
        ],
    }


def parse(model: str, source: IO[str], sink: IO[str]) -> int:
    """Load ``model`` once and answer every request on ``source`` on ``sink``.

    Rasa writes some messages with ``print``; stdout is pointed at stderr while it runs so that
    ``sink`` carries nothing but answers. Returns how many messages were parsed.
    """
    import asyncio

    from rasa.core.agent import Agent

    loop = asyncio.new_event_loop()
    count = 0
    with contextlib.redirect_stdout(sys.stderr):
        _configure_logging(logging.WARNING)
        agent = Agent.load(model)
        if not agent.is_ready():
            raise SystemExit(f"rasa_nlu.py: could not load a model from {model}")
        for text in _requests(source):
            parsed = loop.run_until_complete(agent.parse_message(text))
            sink.write(json.dumps(_answer(parsed)) + "\n")
            sink.flush()
            count += 1
    loop.close()
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    training = commands.add_parser("train", help="train an NLU-only model")
    training.add_argument("--config", required=True, help="pipeline config (YAML)")
    training.add_argument("--data", required=True, help="NLU training data, a file or directory")
    training.add_argument("--out", required=True, help="directory for the model archive")
    parsing = commands.add_parser("parse", help="JSON lines in, one intent ranking per line out")
    parsing.add_argument("--model", required=True, help="model archive (.tar.gz)")
    args = parser.parse_args(argv)

    if args.command == "train":
        stdout = sys.stdout
        with contextlib.redirect_stdout(sys.stderr):
            model, seconds = train(args.config, args.data, args.out)
        stdout.write(f"trained in {seconds:.2f} s\n{model}\n")
        stdout.flush()
    else:
        parse(args.model, sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
