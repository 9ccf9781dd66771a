"""Load: simulated parents through the Telegram and Twilio (SMS) webhooks at 1, 10 and 100
concurrent conversations, side by side in one run with raw Rasa on the same model.

- "pipeline": a separate `parentvoice serve` process; half the parents post Telegram updates to
  /webhooks/telegram, half post signed Twilio SMS forms to /webhooks/twilio/sms. The fakes of
  both platforms run in this process on 127.0.0.1. A turn's latency is webhook POST → the last
  reply of that turn received by the fake (what a parent waits). Everything a message goes
  through is on: safeguarding (three layers), redaction, the inbox, Rasa, one transaction, the
  outbox and delivery.
- "raw Rasa": the same turns posted to Rasa's own REST channel (/webhooks/rest/webhook), which
  answers in the HTTP response; Rasa still calls the app for its form actions.
- Parents answer at once (no thinking time), so a round measures capacity. The platforms' own
  limits (Telegram's 1/s per chat and 30/s per bot; an SMS long code's 1/s) and flood control are
  lifted for the run: they would measure the platforms, not us.
- Memory: VmRSS of the app process and of the Rasa process tree after each round.

Usage: .venv/bin/python bench/load.py [--levels 1,10,100] [--parents-min 20] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.latency import SCRIPT, percentile, replies_arrive, rss_mb  # noqa: E402
from bot.rasa_process import RasaServer, ensure_model, rasa_executable  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI, make_text_update  # noqa: E402
from tests.fakes.twilio_api import (  # noqa: E402
    ACCOUNT_SID,
    AUTH_TOKEN,
    SMS_NUMBER,
    FakeTwilioAPI,
    new_sid,
    signed_form,
    sms_params,
)
from tests.harness import free_port, wait_healthy  # noqa: E402

TOKEN = "123456:BENCH-token-synthetic"
SECRET = "bench-webhook-secret"
START = '/pv_start{"flow": "hcp_experience"}'  # what the app sends Rasa for a first "hi"
_phones = itertools.count(0)  # Ofcom's drama range, 07700 900000-900999: never a real number


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and all its descendants (from /proc)."""
    ticks, pids = 0, [pid]
    while pids:
        current = pids.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            pids.extend(int(c) for c in children)
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


class Inboxes:
    """Replies per recipient as the fakes record them, counted incrementally (100 parents polling
    must not each rescan every message sent)."""

    def __init__(self, telegram: FakeTelegramAPI, twilio: FakeTwilioAPI) -> None:
        self.telegram, self.twilio = telegram, twilio
        self._seen = [0, 0]
        self._counts: Counter[str] = Counter()

    def count(self, address: str) -> int:
        for index, sent, key in ((0, self.telegram.sent, "chat_id"), (1, self.twilio.sent, "To")):
            for message in sent[self._seen[index] :]:
                self._counts[str(message.get(key))] += 1
            self._seen[index] = len(sent)
        return self._counts[address]


async def pipeline_parent(
    client: httpx.AsyncClient, inboxes: Inboxes, index: int, ids: Any, public_url: str
) -> list[float]:
    """One parent's whole script through one channel; the latency of each turn in ms."""
    channel = "telegram" if index % 2 == 0 else "sms"
    chat_id = 800_000_000 + index
    phone = f"+447700900{next(_phones):03d}" if channel == "sms" else ""
    address = str(chat_id) if channel == "telegram" else phone
    latencies = []
    for text, expected in SCRIPT:
        before = inboxes.count(address)
        started = time.perf_counter()
        if channel == "telegram":
            response = await client.post(
                "/webhooks/telegram", json=make_text_update(next(ids), chat_id, text),
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            )  # fmt: skip
        else:
            path = "/webhooks/twilio/sms"
            headers, body = signed_form(f"{public_url}{path}", sms_params(new_sid(), phone, text))
            response = await client.post(path, content=body, headers=headers)
        response.raise_for_status()
        await replies_arrive(
            lambda: inboxes.count(address), before + expected, started, 60,
            f"{channel} parent {index}: no reply to {text!r}",
        )  # fmt: skip
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def raw_rasa_parent(client: httpx.AsyncClient, index: int) -> list[float]:
    sender = f"raw-{secrets.token_hex(6)}-{index}"
    latencies = []
    for text in [START, *(text for text, _ in SCRIPT[1:])]:
        started = time.perf_counter()
        response = await client.post(
            "/webhooks/rest/webhook", json={"sender": sender, "message": text}
        )
        response.raise_for_status()
        assert response.json(), f"raw Rasa did not answer {text!r}"
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def round_of(concurrency: int, parents: int, run_one: Any) -> dict[str, float]:
    """``parents`` scripts, at most ``concurrency`` at a time; figures for all their turns."""
    gate = asyncio.Semaphore(concurrency)

    async def limited(index: int) -> list[float]:
        async with gate:
            return await run_one(index)

    started = time.perf_counter()
    results = await asyncio.gather(*(limited(i) for i in range(parents)))
    elapsed = time.perf_counter() - started
    latencies = [ms for per_parent in results for ms in per_parent]
    return {
        "turns": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "turns_per_s": round(len(latencies) / elapsed, 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--levels", default="1,10,100", help="concurrent conversations per round")
    parser.add_argument("--parents-min", type=int, default=20, help="parents in the smaller rounds")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]

    rasa_bin = rasa_executable(ROOT)
    nlu = ROOT / "nlu"
    model = await asyncio.to_thread(ensure_model, nlu, ROOT / "var" / "models", rasa_bin)
    figures: dict[str, Any] = {"rounds": {}}
    with tempfile.TemporaryDirectory(prefix="pv-load-") as tmp_name:
        tmp = Path(tmp_name)
        token = secrets.token_urlsafe(16)
        app_port, rasa_url = free_port(), f"http://127.0.0.1:{free_port()}"
        public_url = f"http://127.0.0.1:{app_port}"
        rasa = RasaServer(
            project_dir=nlu, model=model, url=rasa_url, token=token, run_dir=tmp / "rasa",
            tracker_db=tmp / "rasa-tracker.db", actions_url=f"{public_url}/rasa/actions/webhook",
            log_file=tmp / "rasa.log", rasa_bin=rasa_bin, rest_channel=True,
        )  # fmt: skip
        async with FakeTelegramAPI(TOKEN) as telegram, FakeTwilioAPI() as twilio:
            env = os.environ | {
                "PARENTVOICE__DATABASE__URL": f"sqlite:///{tmp / 'load.db'}",
                "PARENTVOICE__SERVER__PORT": str(app_port),
                "PARENTVOICE__SERVER__PUBLIC_URL": public_url,
                "PARENTVOICE__SERVER__PER_SENDER_PER_MINUTE": "0",
                "PARENTVOICE__RASA__URL": rasa_url,
                "PARENTVOICE__RASA__TOKEN": token,
                "PARENTVOICE__RASA__MANAGE": "false",
                "PARENTVOICE__RASA__TRACKER_DB": str(tmp / "rasa-tracker.db"),
                "PARENTVOICE__CHANNELS__TELEGRAM__ENABLED": "true",
                "PARENTVOICE__CHANNELS__TELEGRAM__TOKEN": TOKEN,
                "PARENTVOICE__CHANNELS__TELEGRAM__WEBHOOK_SECRET": SECRET,
                "PARENTVOICE__CHANNELS__TELEGRAM__API_BASE_URL": telegram.base_url,
                "PARENTVOICE__CHANNELS__TELEGRAM__PER_CHAT_PER_SECOND": "1000",
                "PARENTVOICE__CHANNELS__TWILIO__ENABLED": "true",
                "PARENTVOICE__CHANNELS__TWILIO__ACCOUNT_SID": ACCOUNT_SID,
                "PARENTVOICE__CHANNELS__TWILIO__AUTH_TOKEN": AUTH_TOKEN,
                "PARENTVOICE__CHANNELS__TWILIO__SMS_FROM": SMS_NUMBER,
                "PARENTVOICE__CHANNELS__TWILIO__API_BASE_URL": twilio.base_url,
                "PARENTVOICE__CHANNELS__TWILIO__PER_SECOND": "1000",
                "PARENTVOICE__OUTBOX__PER_CHANNEL_PER_SECOND": "1000",
                "PARENTVOICE__LOGGING__LEVEL": "WARNING",
                "PARENTVOICE__LOGGING__FILE": "",
            }
            app_log = tmp / "app.log"
            with app_log.open("wb") as printed:
                app = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], cwd=ROOT,
                                       env=env, stdout=printed, stderr=subprocess.STDOUT)  # fmt: skip
            try:
                await rasa.start()
                await rasa.wait_ready()
                await wait_healthy(public_url)
                inboxes = Inboxes(telegram, twilio)
                ids = itertools.count(1)
                offset = itertools.count(0, 100_000)  # every round's parents are new parents
                limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
                async with (
                    httpx.AsyncClient(base_url=public_url, timeout=60, limits=limits) as app_client,
                    httpx.AsyncClient(base_url=rasa_url, timeout=60, limits=limits) as rasa_client,
                ):
                    base = next(offset)  # warm-up: two parents through each side
                    await round_of(
                        2,
                        2,
                        lambda i: pipeline_parent(app_client, inboxes, base + i, ids, public_url),
                    )
                    await round_of(2, 2, lambda i: raw_rasa_parent(rasa_client, i))
                    assert rasa._proc is not None
                    rasa_pid = rasa._proc.pid

                    def cpu() -> tuple[float, float]:
                        return cpu_seconds(app.pid), cpu_seconds(rasa_pid)

                    for level in levels:
                        parents = max(level, args.parents_min)
                        before = cpu()
                        raw = await round_of(
                            level, parents, lambda i: raw_rasa_parent(rasa_client, i)
                        )
                        between = cpu()
                        base = next(offset)
                        ours = await round_of(
                            level, parents,
                            lambda i, b=base: pipeline_parent(app_client, inboxes, b + i, ids, public_url),
                        )  # fmt: skip
                        after = cpu()
                        # CPU ms per turn in each process (the app answers Rasa's form actions in
                        # both; in the pipeline it also does everything a message goes through).
                        for (start, end), figures_of in (
                            ((before, between), raw), ((between, after), ours),
                        ):  # fmt: skip
                            turns = figures_of["turns"]
                            figures_of["app_cpu_ms"] = round((end[0] - start[0]) * 1000 / turns, 1)
                            figures_of["rasa_cpu_ms"] = round((end[1] - start[1]) * 1000 / turns, 1)
                        figures["rounds"][level] = {
                            "parents": parents,
                            "raw_rasa": raw,
                            "pipeline": ours,
                            "throughput_ratio": round(ours["turns_per_s"] / raw["turns_per_s"], 2),
                            "app_rss_mb": round(rss_mb(app.pid)),
                            "rasa_rss_mb": round(rss_mb(rasa_pid)),
                        }
            except BaseException:
                print(f"the app printed (last lines of {app_log.name}):", file=sys.stderr)
                print(app_log.read_text(errors="replace")[-4000:], file=sys.stderr)
                raise
            finally:
                app.terminate()
                app.wait(10)
                await rasa.stop()
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print("\nLoad: parents through the Telegram and SMS webhooks vs raw Rasa (REST), same model")
    print(f"{'concurrent':>10} {'parents':>8} {'side':>9} {'turns':>6} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'turns/s':>8} {'CPU ms/turn app+Rasa':>21} {'ratio':>6} {'app MB':>7} "
          f"{'Rasa MB':>8}")  # fmt: skip
    for level, row in figures["rounds"].items():
        for side in ("raw_rasa", "pipeline"):
            f = row[side]
            extra = (
                f"{row['throughput_ratio']:>6} {row['app_rss_mb']:>7} {row['rasa_rss_mb']:>8}"
                if side == "pipeline"
                else ""
            )
            cpu_ms = f"{f['app_cpu_ms']:.1f} + {f['rasa_cpu_ms']:.1f}"
            print(f"{level:>10} {row['parents']:>8} {side:>9} {f['turns']:>6} {f['p50_ms']:>8} "
                  f"{f['p99_ms']:>8} {f['turns_per_s']:>8} {cpu_ms:>21} {extra}")  # fmt: skip
    print("ratio = pipeline turns/s ÷ raw Rasa turns/s (goal ≥ 0.9); goal p99 ≤ 300 ms at 10.\n")


if __name__ == "__main__":
    asyncio.run(main())
