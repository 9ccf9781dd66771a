"""Our Rasa pipeline (nlu/config.yml) against Rasa's default DIET+TED, on the same data and domain.

    .venv/bin/python bench/rasa_pipeline.py               # both pipelines, one after the other
    .venv/bin/python bench/rasa_pipeline.py --only ours   # quick run: skip DIET+TED
    .venv/bin/python bench/rasa_pipeline.py --json        # figures as JSON on stdout

For each pipeline, in a fresh temporary project (nlu/data, nlu/domain.yml, nlu/rasa_ext and the
pipeline's config; var/models is never touched) it measures:

- train_s: wall time of ``rasa train`` with a cold training cache (``ensure_model``);
- start_s: process start until ``GET /`` answers 200 (``RasaServer.wait_ready`` polls every 0.5 s,
  so this is accurate to about half a second);
- rss_mb: VmRSS of the server process and its children after a warm-up, read from /proc;
- p50_ms, p99_ms, msg_per_s: sequential ``POST /model/parse`` over 200 fixed synthetic messages;
- accuracy on a held-out list of labelled synthetic messages, and how many free-text answers came out
  as a control intent (help/stop/pause/start_again/delete_data): each of those would act on a parent
  who was only answering a question, e.g. end their conversation.

The machine is small and noisy, so the DIET/ours ratios matter more than the absolute figures.
Pipelines run one at a time; all traffic is to 127.0.0.1; every server started is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from bot.errors import RasaError
from bot.rasa import RasaClient
from bot.rasa_process import RasaServer, ensure_model, rasa_executable

ROOT = Path(__file__).resolve().parent.parent
NLU_DIR = ROOT / "nlu"

# Rasa's default DIET+TED pipeline, with our fallback settings so the comparison is like for like.
DIET_CONFIG = """\
# Written by bench/rasa_pipeline.py: Rasa's default DIET+TED pipeline, for comparison only.
recipe: default.v1
assistant_id: parentvoice-bench-diet
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: RegexFeaturizer
  - name: LexicalSyntacticFeaturizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 4
  - name: DIETClassifier
    epochs: 100
  - name: EntitySynonymMapper
  - name: ResponseSelector
    epochs: 100
  - name: FallbackClassifier
    threshold: 0.55
policies:
  - name: MemoizationPolicy
  - name: RulePolicy
    core_fallback_threshold: 0.3
    core_fallback_action_name: action_pv_control
    enable_fallback_prediction: true
  - name: UnexpecTEDIntentPolicy
    max_history: 5
    epochs: 100
  - name: TEDPolicy
    max_history: 5
    epochs: 100
"""

CONTROL_INTENTS = frozenset({"help", "stop", "pause", "start_again", "delete_data"})
# "answer" in the held-out labels: the form keeps the text as the parent's answer either way.
ANSWER_INTENTS = frozenset({"inform", "nlu_fallback"})

# Held-out labelled messages: synthetic, and none of them is a training example (checked at start).
# A label may allow several outcomes ("affirm|answer"): "yes they listened" is a fine answer either way.
HELD_OUT: tuple[tuple[str, str], ...] = (
    ("can you help me", "help"),
    ("what is this for", "help"),
    ("i'm not sure what to do here", "help"),
    ("how do i answer this", "help"),
    ("help!", "help"),
    ("sorry what is this message", "help"),
    ("stop now", "stop"),
    ("please stop messaging me", "stop"),
    ("I want to unsubscribe", "stop"),
    ("stop this", "stop"),
    ("no more texts please", "stop"),
    ("end this chat", "stop"),
    ("can we pause", "pause"),
    ("im busy, later", "pause"),
    ("need to go, baby woke up", "pause"),
    ("can i finish this tomorrow", "pause"),
    ("give me 5 minutes", "pause"),
    ("not a good time", "pause"),
    ("can we start over", "start_again"),
    ("start again please", "start_again"),
    ("let me start from scratch", "start_again"),
    ("restart the questions", "start_again"),
    ("begin from the start", "start_again"),
    ("delete my answers please", "delete_data"),
    ("please erase what i said", "delete_data"),
    ("i want everything deleted", "delete_data"),
    ("remove all my data", "delete_data"),
    ("delete everything i told you", "delete_data"),
    ("wipe my answers", "delete_data"),
    ("yes ok", "affirm"),
    ("yeah sure", "affirm"),
    ("ok go ahead", "affirm"),
    ("yes that's fine", "affirm"),
    ("sure thing", "affirm"),
    ("no thank you very much", "deny"),
    ("nah not really", "deny"),
    ("no i'd rather not", "deny"),
    ("definitely not", "deny"),
    ("nope, not for me", "deny|answer"),
    # Free-text answers, several mentioning a control word in passing.
    ("the health visitor told us to stop using the dummy at night and it worked", "answer"),
    ("I had to start again with a new GP after we moved and nobody passed on his notes", "answer"),
    ("they asked me to delete the app and install it again to book, which took ages", "answer"),
    ("the nurse said stop worrying, which made me feel she wasn't listening", "answer"),
    ("help with breastfeeding was brilliant in the first week", "answer"),
    ("the clinic kept cancelling so I had to stop going in the end", "answer"),
    ("I wanted help with his sleep but the groups had stopped after covid", "answer"),
    ("nobody stopped to ask how I was coping", "answer"),
    ("the online form crashed and deleted everything I had typed", "answer"),
    ("I'd like them to stop sending letters and text me instead", "answer"),
    ("pausing the visits over the summer meant we missed the one year review", "answer"),
    ("they helped me a lot", "answer"),
    ("the help line was closed at the weekend", "answer"),
    ("don't stop the drop-in sessions, they are a lifeline", "answer"),
    ("no one told me about the baby clinic", "answer"),
    ("my gp", "answer"),
    ("too many different people", "answer"),
    ("it was fine I guess", "answer|affirm"),
    ("yes they listened to me and helped", "answer|affirm"),
    ("Honestly the first weeks were hard. The health visitor came once and then the visits just "
     "stopped, and when I rang for help with feeding I was told to delete the old app and use the new "
     "one, which did not work on my phone. I'd like someone to call back when they say they will.",
     "answer"),
    ("We had to start again from the beginning every time we saw someone new, telling the whole story "
     "of his birth and the hospital stay. It would help if they read the notes first.", "answer"),
    ("I asked them to stop weighing her in front of other mums because it made me anxious, and they "
     "were kind about it and found a private room.", "answer"),
    ("At the two year check they said to pause the speech referral until after his birthday, then the "
     "waiting list was another eight months. I wish someone had helped me push for it sooner.",
     "answer"),
    ("my partner wanted the service to delete the old records with the wrong surname but nobody "
     "knew how to do it", "answer"),
    ("the stop smoking nurse at the clinic was lovely", "answer"),
)  # fmt: skip

# Messages for the latency run: short control phrases and free-text answers of every length.
_CONTROL_PHRASES = (
    "stop", "STOP", "Stop please", "help", "HELP", "help me please", "pause", "later", "not now",
    "busy", "brb", "start again", "restart", "start over", "delete", "DELETE MY DATA",
    "delete my data", "erase my answers", "yes", "YES", "yeah", "ok", "sure", "no", "NO", "nope",
    "no thanks", "1", "2", "3", "4", "5", "skip", "SKIP", "?", "what is this", "who are you",
    "unsubscribe", "end", "quit", "cancel", "forget me", "go on", "fine", "not sure", "dunno",
    "mum", "dad", "grandparent", "facebook",
)  # fmt: skip
_ANSWER_SENTENCES = (
    "The health visitor came to the house when he was ten days old.",
    "She was kind and did not rush me.",
    "I waited five weeks for a call back about his weight.",
    "Nobody told me the clinic had moved to the library.",
    "The baby clinic is only open on weekday mornings when I am at work.",
    "Different people gave me different advice about weaning.",
    "I felt listened to for the first time in months.",
    "They treated me like I did not know my own child.",
    "The school nurse helped my daughter with her anxiety.",
    "I could not get through on the phone for three days.",
    "The family hub runs a lovely group on Fridays.",
    "I only found out about the service from another mum.",
    "Evening appointments would make a big difference for working parents.",
    "As a dad I felt invisible at most appointments.",
    "The advice about reflux was clear and it worked.",
    "It took four months to get a referral to speech and language.",
    "The GP and the health visitor did not seem to talk to each other.",
    "We were already struggling by the time anyone helped.",
    "When he was diagnosed there was no one to explain what came next.",
    "They should stop changing the health visitor at every visit.",
    "I had to delete and redo the online form twice.",
    "The interpreter made it possible for me to ask my questions.",
    "Getting there by bus with a pram took over an hour.",
    "The two year check was quick but useful.",
    "After NICU the follow up was patchy.",
    "The waiting list for CAMHS is over a year.",
    "A single list of local services would help so much.",
    "It is luck of the draw who you get.",
    "My sister in the next town gets far more support.",
    "The breastfeeding peer supporter was amazing.",
    "I felt judged for bottle feeding.",
    "Texts reminding me about appointments would help.",
    "Please keep the drop-in sessions, they are a lifeline.",
    "The visits stopped when she turned one and I still had questions.",
    "I wanted to pause and ask about my own mood but there was no time.",
    "The nurse noticed I was not coping and found me help that week.",
    "We moved area and had to start again with a new team.",
    "Nobody asked how my older child was doing.",
    "The letters are full of jargon.",
    "All good, thank you.",
)  # fmt: skip
LATENCY_SIZE = 200
WARMUP_SIZE = 20


def latency_messages() -> list[str]:
    """200 fixed messages: control phrases, single sentences and answers of 2 to 5 sentences.

    Built deterministically (a seeded generator) so every run sends the same list.
    """
    rng = random.Random(7)
    messages = [*_CONTROL_PHRASES, *_ANSWER_SENTENCES]
    for i in range(LATENCY_SIZE - len(messages)):
        messages.append(" ".join(rng.sample(_ANSWER_SENTENCES, 2 + i % 4)))
    rng.shuffle(messages)
    return messages


@dataclass(frozen=True)
class Pipeline:
    """A pipeline to measure: its key (for --only), its label in the table, its config.yml text."""

    key: str
    label: str
    config: str


@dataclass(frozen=True)
class Verdict:
    """How the pipeline classified one held-out message.

    ``best`` is the classifier's own top intent before the FallbackClassifier (the highest in the
    ranking other than nlu_fallback): it shows how close an answer came to being taken as a command.
    """

    text: str
    expected: str
    predicted: str
    confidence: float
    best: str
    best_confidence: float

    @property
    def correct(self) -> bool:
        """The predicted intent is one the label accepts."""
        return self.predicted in accepted(self.expected)

    @property
    def is_answer(self) -> bool:
        """The message is a free-text answer (its label accepts "answer")."""
        return "answer" in self.expected.split("|")

    @property
    def answer_as_control(self) -> bool:
        """A free-text answer read as a command: the harmful kind of mistake."""
        return self.is_answer and self.predicted in CONTROL_INTENTS


@dataclass(frozen=True)
class Result:
    """Every figure measured for one pipeline."""

    pipeline: str
    train_s: float
    start_s: float
    rss_mb: float
    p50_ms: float
    p99_ms: float
    msg_per_s: float
    accuracy: float
    correct: int
    held_out: int
    answers_as_control: int
    model_mb: float
    misses: tuple[Verdict, ...]
    # Answers the classifier ranked as a command first, highest confidence first: only the
    # FallbackClassifier threshold (or nothing, if they are also in misses) stood between them and it.
    near_commands: tuple[Verdict, ...]


def pipelines() -> list[Pipeline]:
    """Ours (nlu/config.yml as it is now) and Rasa's default DIET+TED."""
    ours = (NLU_DIR / "config.yml").read_text(encoding="utf-8")
    return [
        Pipeline("ours", "ours (char-ngram LR)", ours),
        Pipeline("diet", "DIET+TED", DIET_CONFIG),
    ]


def accepted(label: str) -> frozenset[str]:
    """The intents a held-out label accepts; "answer" stands for inform or nlu_fallback."""
    out: set[str] = set()
    for part in label.split("|"):
        out |= ANSWER_INTENTS if part == "answer" else {part}
    return frozenset(out)


def training_examples(nlu_file: Path) -> set[str]:
    """Every training example in an NLU YAML file, lower-cased."""
    data = yaml.safe_load(nlu_file.read_text(encoding="utf-8")) or {}
    examples: set[str] = set()
    for block in data.get("nlu") or []:
        for line in str(block.get("examples") or "").splitlines():
            line = line.strip()
            if line.startswith("- "):
                examples.add(line[2:].strip().lower())
    return examples


def check_held_out(examples: set[str], held_out: Iterable[tuple[str, str]]) -> None:
    """Refuse to run if a held-out message is also a training example (it would not be held out)."""
    leaked = [text for text, _ in held_out if text.strip().lower() in examples]
    if leaked:
        raise SystemExit(f"held-out messages found in nlu/data/nlu.yml: {leaked}")


def make_project(project: Path, config: str) -> None:
    """A throwaway Rasa project: the real data, domain and channel, with the given config."""
    project.mkdir(parents=True)
    (project / "config.yml").write_text(config, encoding="utf-8")
    shutil.copy2(NLU_DIR / "domain.yml", project / "domain.yml")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(NLU_DIR / "data", project / "data", ignore=ignore)
    # credentials.yml (written by RasaServer) loads rasa_ext.channel from the project dir.
    shutil.copytree(NLU_DIR / "rasa_ext", project / "rasa_ext", ignore=ignore)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


# --- /proc ---------------------------------------------------------------------------------------


def _proc_cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]


def _proc_stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time in clock ticks) of a process, or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name may contain spaces and ")"
    return int(fields[1]), fields[19]


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def server_pid(model: Path, port: int) -> int | None:
    """The pid of our ``rasa run`` (RasaServer keeps its own private), found by its command line."""
    for pid in _all_pids():
        args = _proc_cmdline(pid)
        if "run" not in args or "--model" not in args or "-p" not in args:
            continue
        if args[args.index("--model") + 1] == str(model) and args[args.index("-p") + 1] == str(
            port
        ):
            return pid
    return None


def process_tree(root: int) -> dict[int, str]:
    """The root and all its descendants: pid -> start time (to recognise them later)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for pid in _all_pids():
        stat = _proc_stat(pid)
        if stat is not None:
            children.setdefault(stat[0], []).append(pid)
            starts[pid] = stat[1]
    tree: dict[int, str] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in starts:
            tree[pid] = starts[pid]
            todo.extend(children.get(pid, []))
    return tree


def vm_rss_kb(pid: int) -> int:
    """VmRSS of one process in kB (0 if it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def kill_survivors(tree: dict[int, str]) -> None:
    """SIGKILL any process of a tree we started that outlived the server's stop."""
    for pid, started in tree.items():
        stat = _proc_stat(pid)
        if stat is not None and stat[1] == started:  # the same process, not a reused pid
            print(f"  killing leftover process {pid}", file=sys.stderr)
            os.kill(pid, signal.SIGKILL)


# --- measuring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Serving:
    """What was measured against a running server."""

    rss_mb: float
    p50_ms: float
    p99_ms: float
    msg_per_s: float
    verdicts: tuple[Verdict, ...]


async def measure(pipeline: Pipeline, workdir: Path, rasa_bin: Path) -> Result:
    """Train, start, warm up, measure and stop one pipeline in its own temporary project."""
    project = workdir / pipeline.key
    make_project(project, pipeline.config)
    # A cold training cache in the project, whatever the caller's environment says.
    os.environ["RASA_CACHE_DIRECTORY"] = str(project / ".rasa" / "cache")

    progress(f"{pipeline.label}: training")
    began = time.perf_counter()
    model = await asyncio.to_thread(
        ensure_model, project, workdir / f"{pipeline.key}-models", rasa_bin
    )
    train_s = time.perf_counter() - began
    progress(f"{pipeline.label}: trained in {train_s:.1f} s")

    port, token = free_port(), secrets.token_urlsafe(24)
    url = f"http://127.0.0.1:{port}"
    run_dir = workdir / f"{pipeline.key}-run"
    log_file = run_dir / "rasa.log"
    server = RasaServer(
        project_dir=project,
        model=model,
        url=url,
        token=token,
        run_dir=run_dir,
        tracker_db=run_dir / "tracker.db",
        actions_url=f"http://127.0.0.1:{free_port()}/webhook",  # nothing listens: parse never calls it
        log_file=log_file,
        rasa_bin=rasa_bin,
    )
    tree: dict[int, str] = {}
    began = time.perf_counter()
    try:
        await server.start()
        try:
            await server.wait_ready(timeout=600)
        except RasaError:
            tail = log_file.read_text(errors="replace").splitlines()[-30:]
            print("\n".join(tail), file=sys.stderr)
            raise
        start_s = time.perf_counter() - began
        root = server_pid(model, port)
        if root is None:
            raise RasaError(f"rasa answers on port {port} but its process was not found")
        tree = process_tree(root)
        progress(f"{pipeline.label}: ready in {start_s:.1f} s")
        client = RasaClient(url, token, timeout=60.0)
        http = httpx.AsyncClient(base_url=url, timeout=60.0)
        try:
            serving = await measure_server(pipeline, client, http, token, root)
        finally:
            await client.aclose()
            await http.aclose()
    finally:
        root = server_pid(model, port) if server.running else None
        if root is not None:
            tree |= process_tree(root)  # anything started since
        try:
            await server.stop()
        finally:
            kill_survivors(tree)
    misses = tuple(v for v in serving.verdicts if not v.correct)
    near = [v for v in serving.verdicts if v.is_answer and v.best in CONTROL_INTENTS]
    correct = len(HELD_OUT) - len(misses)
    return Result(
        pipeline=pipeline.label,
        train_s=train_s,
        start_s=start_s,
        rss_mb=serving.rss_mb,
        p50_ms=serving.p50_ms,
        p99_ms=serving.p99_ms,
        msg_per_s=serving.msg_per_s,
        accuracy=correct / len(HELD_OUT),
        correct=correct,
        held_out=len(HELD_OUT),
        answers_as_control=sum(v.answer_as_control for v in misses),
        model_mb=model.stat().st_size / 1e6,
        misses=misses,
        near_commands=tuple(sorted(near, key=lambda v: -v.best_confidence)),
    )


async def classify(http: httpx.AsyncClient, token: str, text: str, expected: str) -> Verdict:
    """Parse one held-out message, keeping the classifier's ranking (RasaClient.parse drops it)."""
    resp = await http.post("/model/parse", params={"token": token}, json={"text": text})
    resp.raise_for_status()
    body = resp.json()
    intent = body.get("intent") or {}
    ranking = [r for r in body.get("intent_ranking") or [] if r.get("name") != "nlu_fallback"]
    best: dict[str, Any] = max(ranking, key=lambda r: float(r.get("confidence") or 0.0), default={})
    return Verdict(
        text=text,
        expected=expected,
        predicted=str(intent.get("name") or ""),
        confidence=round(float(intent.get("confidence") or 0.0), 3),
        best=str(best.get("name") or ""),
        best_confidence=round(float(best.get("confidence") or 0.0), 3),
    )


async def measure_server(
    pipeline: Pipeline, client: RasaClient, http: httpx.AsyncClient, token: str, root: int
) -> Serving:
    """Warm up, read the memory, time sequential parses, then classify the held-out list.

    Latency goes through the app's own RasaClient.parse, so it is what the app would see.
    """
    messages = latency_messages()
    for text in messages[:WARMUP_SIZE]:
        await client.parse(text)
    rss_mb = sum(vm_rss_kb(pid) for pid in process_tree(root)) / 1024

    progress(f"{pipeline.label}: {len(messages)} sequential parses")
    latencies: list[float] = []
    began = time.perf_counter()
    for text in messages:
        sent = time.perf_counter()
        await client.parse(text)
        latencies.append(time.perf_counter() - sent)
    total = time.perf_counter() - began
    latencies.sort()

    verdicts = [await classify(http, token, text, label) for text, label in HELD_OUT]
    return Serving(
        rss_mb=rss_mb,
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        msg_per_s=len(messages) / total,
        verdicts=tuple(verdicts),
    )


# --- reporting -----------------------------------------------------------------------------------

COLUMNS = ("train_s", "start_s", "rss_mb", "p50_ms", "p99_ms", "msg_per_s", "accuracy")


def progress(message: str) -> None:
    """A progress line on stderr, so stdout holds only the results."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ratios(diet: Result, ours: Result) -> dict[str, float]:
    """DIET figure / our figure, per column."""
    return {
        c: getattr(diet, c) / getattr(ours, c) if getattr(ours, c) else math.nan for c in COLUMNS
    }


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return {"cpus": str(os.cpu_count()), "loadavg": loadavg}


def table(results: list[Result]) -> str:
    """The side-by-side table, with a ratio row when both pipelines ran."""
    head = f"{'pipeline':<22}" + "".join(f"{c:>10}" for c in COLUMNS) + f"{'ans->ctl':>10}"
    lines = [head, "-" * len(head)]
    for r in results:
        cells = (r.train_s, r.start_s, r.rss_mb, r.p50_ms, r.p99_ms, r.msg_per_s)
        lines.append(
            f"{r.pipeline:<22}" + "".join(f"{v:>10.1f}" for v in cells)
            + f"{f'{r.correct}/{r.held_out}':>10}" + f"{r.answers_as_control:>10}"
        )  # fmt: skip
    if len(results) == 2:
        ours, diet = results
        factors = ratios(diet, ours).values()
        lines.append(f"{'ratio DIET/ours':<22}" + "".join(f"{f'{v:.2f}x':>10}" for v in factors))
    return "\n".join(lines)


def misses_report(results: list[Result]) -> str:
    """Each pipeline's misclassified held-out messages; harmful ones (answer -> command) flagged."""
    out: list[str] = []
    for r in results:
        out.append(f"\n{r.pipeline}: {len(r.misses)} misclassified of {r.held_out} "
                   f"({r.accuracy:.1%} correct)")  # fmt: skip
        for v in r.misses:
            out.append(_verdict_line(v))
        out.append(f"  answers whose top classifier intent was a command ({len(r.near_commands)}):")
        for v in r.near_commands:
            out.append(_verdict_line(v))
    out.append(
        "\n!! = a free-text answer read as a command (would act on a parent who was answering)"
    )
    out.append("best = the classifier's top intent before the FallbackClassifier")
    return "\n".join(out)


def _verdict_line(v: Verdict) -> str:
    flag = "!!" if v.answer_as_control else "  "
    return (f" {flag} expected {v.expected:<12} got {v.predicted:<12} {v.confidence:.2f}"
            f"  best {v.best:<11} {v.best_confidence:.2f}  {v.text!r}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", choices=[p.key for p in pipelines()], help="measure one pipeline")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    check_held_out(training_examples(NLU_DIR / "data" / "nlu.yml"), HELD_OUT)
    chosen = [p for p in pipelines() if args.only in (None, p.key)]
    rasa_bin = rasa_executable(ROOT)
    before = machine()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="pv-bench-rasa-") as tmp:
        for pipeline in chosen:
            results.append(asyncio.run(measure(pipeline, Path(tmp), rasa_bin)))

    if args.json:
        report: dict[str, object] = {
            "machine": before,
            "latency_messages": LATENCY_SIZE,
            "results": [asdict(r) for r in results],
        }
        if len(results) == 2:
            report["ratio_diet_over_ours"] = ratios(results[1], results[0])
        print(json.dumps(report, indent=2))
    else:
        print(f"machine: {before['cpus']} cpus, load average {before['loadavg']} at start; "
              f"{LATENCY_SIZE} sequential parses; {len(HELD_OUT)} held-out messages\n")  # fmt: skip
        print(table(results))
        print(misses_report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
