"""Reply latency through the Telegram webhook, and the memory of the app and of Rasa.

Side by side in one run (the machine is noisy, so compare ratios, not absolutes):
  - training time of the Rasa model from scratch (into a temporary directory),
  - Rasa server start time,
  - "pipeline": simulated parents post Telegram updates to the app's webhook (a separate
    `parentvoice serve` process); latency = webhook POST → last reply of that turn received by the
    fake Bot API (what a parent waits), at 1 and 10 concurrent conversations,
  - "raw Rasa": the same turns posted straight to Rasa's channel (no safeguarding, redaction,
    storage or delivery), sequentially,
  - resident memory (VmRSS) of the app process and of the Rasa process tree afterwards.

Everything runs on 127.0.0.1. Usage: .venv/bin/python bench/latency.py [--parents 20] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.rasa_process import RasaServer, ensure_model, rasa_executable  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI, make_text_update  # noqa: E402
from tests.harness import free_port, wait_healthy  # noqa: E402

TOKEN = "123456:BENCH-token-synthetic"
SECRET = "bench-webhook-secret"
# One synthetic conversation: (what the parent sends, how many replies the bot sends).
SCRIPT = [
    ("hi", 3), ("yes", 1), ("1", 1),
    ("she listened to me and came back when she said she would", 1),
    ("the clinic is only open when i am at work", 1),
    ("not really, different staff said different things about weaning", 1),
    ("mostly, but we waited 6 weeks for a referral", 1),
    ("2", 1), ("skip", 1), ("no", 1),
]  # fmt: skip


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB (from /proc)."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(
                next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
            )
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            pids.extend(int(c) for c in children)
        except (FileNotFoundError, StopIteration, ProcessLookupError):
            continue
    return total / 1024


async def replies_arrive(
    count: Callable[[], int], wanted: int, started: float, seconds: float, what: str
) -> None:
    """Until ``count()`` reaches ``wanted``; RuntimeError(``what``) ``seconds`` after ``started``
    (a ``time.perf_counter()`` reading)."""
    while count() < wanted:
        if time.perf_counter() > started + seconds:
            raise RuntimeError(f"{what} in {seconds:.0f} s")
        await asyncio.sleep(0.001)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))]


class Replies:
    """Counts replies per chat as the fake Bot API records them."""

    def __init__(self, api: FakeTelegramAPI) -> None:
        self.api = api

    def count(self, chat_id: int) -> int:
        return sum(1 for m in self.api.sent if str(m.get("chat_id")) == str(chat_id))


async def one_parent(
    client: httpx.AsyncClient, replies: Replies, chat_id: int, update_ids: Any, think: float
) -> list[float]:
    """Run the script for one parent; return the latency of each turn in ms.

    ``think`` seconds pass between a reply and the parent's next message (reading, typing). It
    matters: Telegram allows about one message per second per chat, and the sender keeps to it,
    so a parent who answered instantly would be waiting for that limit, not for us.
    """
    latencies = []
    pauses = random.Random(chat_id)  # parents do not answer in lockstep; same pauses every run
    for text, expected in SCRIPT:
        await asyncio.sleep(think * pauses.uniform(0.5, 1.5))
        before = replies.count(chat_id)
        started = time.perf_counter()
        response = await client.post(
            "/webhooks/telegram", json=make_text_update(next(update_ids), chat_id, text),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )  # fmt: skip
        response.raise_for_status()
        await replies_arrive(
            lambda: replies.count(chat_id), before + expected, started, 30, f"no reply to {text!r}"
        )
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def pipeline_round(app_url: str, api: FakeTelegramAPI, parents: int, concurrency: int,
                         chat_base: int, update_ids: Any, think: float) -> dict[str, float]:  # fmt: skip
    replies = Replies(api)
    gate = asyncio.Semaphore(concurrency)

    async with httpx.AsyncClient(base_url=app_url, timeout=30) as client:

        async def run(index: int) -> list[float]:
            async with gate:
                return await one_parent(client, replies, chat_base + index, update_ids, think)

        started = time.perf_counter()
        results = await asyncio.gather(*(run(i) for i in range(parents)))
        # Throughput counts working time only: each concurrency slot spent ``think`` seconds
        # before every turn of every parent it ran.
        elapsed = time.perf_counter() - started - think * len(SCRIPT) * parents / concurrency
    latencies = [ms for per_parent in results for ms in per_parent]
    return summary(latencies, elapsed)


async def raw_rasa_round(rasa_url: str, token: str, parents: int) -> dict[str, float]:
    latencies = []
    async with httpx.AsyncClient(base_url=rasa_url, timeout=30,
                                 headers={"Authorization": f"Bearer {token}"}) as client:  # fmt: skip
        started = time.perf_counter()
        for index in range(parents):
            sender = f"raw-{secrets.token_hex(6)}-{index}"
            for text, _ in [('/pv_start{"flow": "hcp_experience"}', 2), *SCRIPT[1:]]:
                t0 = time.perf_counter()
                response = await client.post(
                    "/webhooks/parentvoice/webhook", json={"sender": sender, "message": text}
                )
                response.raise_for_status()
                latencies.append((time.perf_counter() - t0) * 1000)
        elapsed = time.perf_counter() - started
    return summary(latencies, elapsed)


def summary(latencies: list[float], elapsed: float) -> dict[str, float]:
    return {
        "turns": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies), 1),
        "turns_per_s": round(len(latencies) / elapsed, 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parents", type=int, default=20, help="simulated parents per round")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--think", type=float, default=1.0, help="seconds a parent takes to answer")
    args = parser.parse_args()

    figures: dict[str, Any] = {}
    rasa_bin = rasa_executable(ROOT)
    nlu = ROOT / "nlu"
    with tempfile.TemporaryDirectory(prefix="pv-bench-") as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        await asyncio.to_thread(ensure_model, nlu, tmp / "models-scratch", rasa_bin)
        figures["train_s"] = round(time.perf_counter() - t0, 1)
        model = await asyncio.to_thread(ensure_model, nlu, ROOT / "var" / "models", rasa_bin)

        token = secrets.token_urlsafe(16)
        app_port, rasa_url = free_port(), f"http://127.0.0.1:{free_port()}"
        rasa = RasaServer(
            project_dir=nlu, model=model, url=rasa_url, token=token, run_dir=tmp / "rasa",
            tracker_db=tmp / "rasa-tracker.db", actions_url=f"http://127.0.0.1:{app_port}/rasa/actions/webhook",
            log_file=tmp / "rasa.log", rasa_bin=rasa_bin,
        )  # fmt: skip
        async with FakeTelegramAPI(TOKEN) as api:
            env = os.environ | {
                "PARENTVOICE__DATABASE__URL": f"sqlite:///{tmp / 'bench.db'}",
                "PARENTVOICE__SERVER__PORT": str(app_port),
                "PARENTVOICE__RASA__URL": rasa_url,
                "PARENTVOICE__RASA__TOKEN": token,
                "PARENTVOICE__RASA__MANAGE": "false",
                "PARENTVOICE__RASA__TRACKER_DB": str(tmp / "rasa-tracker.db"),
                "PARENTVOICE__CHANNELS__TELEGRAM__ENABLED": "true",
                "PARENTVOICE__CHANNELS__TELEGRAM__TOKEN": TOKEN,
                "PARENTVOICE__CHANNELS__TELEGRAM__WEBHOOK_SECRET": SECRET,
                "PARENTVOICE__CHANNELS__TELEGRAM__API_BASE_URL": api.base_url,
                "PARENTVOICE__LOGGING__LEVEL": "WARNING",
                "PARENTVOICE__LOGGING__FILE": "",
            }
            app = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            try:
                t0 = time.perf_counter()
                await rasa.start()
                await rasa.wait_ready()
                figures["rasa_start_s"] = round(time.perf_counter() - t0, 1)
                app_url = f"http://127.0.0.1:{app_port}"
                await wait_healthy(app_url)
                update_ids = iter(range(1, 10**9))
                await pipeline_round(app_url, api, 2, 1, 100, update_ids, 0.0)  # warm-up
                figures["raw_rasa_sequential"] = await raw_rasa_round(rasa_url, token, args.parents)
                figures["pipeline_1_concurrent"] = await pipeline_round(
                    app_url, api, args.parents, 1, 10_000, update_ids, args.think
                )
                figures["pipeline_10_concurrent"] = await pipeline_round(
                    app_url, api, args.parents, 10, 20_000, update_ids, args.think
                )
                figures["app_rss_mb"] = round(rss_mb(app.pid), 0)
                assert rasa._proc is not None
                figures["rasa_rss_mb"] = round(rss_mb(rasa._proc.pid), 0)
            finally:
                app.terminate()
                app.wait(10)
                await rasa.stop()
    figures["pipeline_vs_raw_throughput"] = round(
        figures["pipeline_1_concurrent"]["turns_per_s"]
        / figures["raw_rasa_sequential"]["turns_per_s"],
        2,
    )
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"\nRasa model training from scratch: {figures['train_s']} s; Rasa server start: {figures['rasa_start_s']} s"
    )
    print(f"{'round':28} {'turns':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'turns/s':>8}")
    for key in ("raw_rasa_sequential", "pipeline_1_concurrent", "pipeline_10_concurrent"):
        f = figures[key]
        print(
            f"{key:28} {f['turns']:>6} {f['p50_ms']:>8} {f['p99_ms']:>8} {f['max_ms']:>8} {f['turns_per_s']:>8}"
        )
    print(f"pipeline (1 concurrent) / raw Rasa throughput: {figures['pipeline_vs_raw_throughput']}")
    print(
        f"memory (VmRSS): app {figures['app_rss_mb']:.0f} MB, Rasa {figures['rasa_rss_mb']:.0f} MB\n"
    )


if __name__ == "__main__":
    asyncio.run(main())
