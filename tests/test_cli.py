"""The `parentvoice` command line: redact and export, as an operator runs them."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from tests.harness import ROOT


def _run(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_redact_writes_one_line_per_input_line_in_order() -> None:
    lines = [
        "my daughter Amelia-Rose saw the health visitor",
        "",
        "ring me on 07700 900456 or email jo.bloggs@example.org",
        "amelia-rose is 6 months old and sees the GP on Monday",
        "postcode LS1 4AP, nhs no 999 123 4560",
    ]
    result = _run("redact", stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout.split("\n")
    assert out[-1] == "" and len(out) - 1 == len(lines)
    assert out[0] == "my daughter [CHILD_1] saw the health visitor"
    assert out[1] == ""
    assert "[PHONE_1]" in out[2] and "[EMAIL_1]" in out[2]
    assert out[3].startswith("[CHILD_1] is 6 months old")  # same person, same placeholder
    assert "GP on Monday" in out[3]
    assert "[POSTCODE_1]" in out[4] and "[NHS_NUMBER_1]" in out[4]


def test_redact_json_gives_text_and_entities_without_raw_values() -> None:
    result = _run("redact", "--json", stdin="call 07700 900456 please\nthanks\n")
    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["text"] == "call [PHONE_1] please"
    assert first["entities"] == [
        {"type": "PHONE", "placeholder": "[PHONE_1]", "start": 5, "end": 17}
    ]
    assert second == {"text": "thanks", "entities": []}
    assert "900456" not in result.stdout


def test_export_bad_date_is_a_clear_error(tmp_path: Path) -> None:
    env = {"PARENTVOICE__DATABASE__URL": f"sqlite:///{tmp_path / 'x.db'}", "PATH": "/usr/bin:/bin"}
    result = _run(
        "export",
        "--format",
        "csv",
        "--out",
        str(tmp_path / "o.csv"),
        "--since",
        "last week",
        env=env,
    )
    assert result.returncode == 2
    assert "dates must be YYYY-MM-DD" in result.stderr


def test_export_on_an_empty_database_writes_the_header(tmp_path: Path) -> None:
    env = {"PARENTVOICE__DATABASE__URL": f"sqlite:///{tmp_path / 'x.db'}", "PATH": "/usr/bin:/bin"}
    out = tmp_path / "o.csv"
    result = _run(
        "export", "--format", "csv", "--out", str(out), "--flow", "hcp_experience", env=env
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(
        b"\xef\xbb\xbfconversation,flow,flow_version,question_id,direction"
    )
    assert "exported 0 messages" in result.stderr


def test_redact_passes_awkward_lines_through_safely() -> None:
    """Empty, very long, emoji, right-to-left and control characters: one line out per line in."""
    long_line = ("waited ages 😩 " * 800)[:9_970] + " ring 07700 900789"
    lines = [
        "",
        long_line,
        "👶🏽 my son zayn 👨‍👩‍👧 loved it 💙",
        "ابني زين. رقمي 07700 900123",  # Arabic, right to left, with a phone number inside
        "call 0770\u200b0 900\u2060456\x1b[2J now\x07",  # zero-width and control characters
        "\u202eevil\u202c text",  # a right-to-left override that could disguise what staff see
        "a stray\rcarriage return 07700 900321",
    ]
    payload = ("\n".join(lines) + "\n").encode() + b"bad bytes \xff\xfe 07700 900654\n"
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "redact"], cwd=ROOT, input=payload,
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode("utf-8").split("\n")
    assert out[-1] == "" and len(out) - 1 == len(lines) + 1
    assert out[0] == ""
    assert len(out[1]) < 10_000 and out[1].endswith("ring [PHONE_1]")
    assert out[2] == "👶🏽 my son [CHILD_1] 👨‍👩‍👧 loved it 💙"  # joiners in emoji kept
    assert out[3] == "ابني زين. رقمي [PHONE_2]"
    assert out[4] == "call [PHONE_3] [2J now "  # the number is caught, control bytes are spaces
    assert out[5] == "evil text"
    assert out[6] == "a stray carriage return [PHONE_4]"
    assert out[7] == "bad bytes \ufffd\ufffd [PHONE_5]"
    for digits in ("900789", "900123", "900456", "900321", "900654"):
        assert digits not in result.stdout.decode()

    as_json = subprocess.run(
        [sys.executable, "-m", "bot.cli", "redact", "--json"], cwd=ROOT, input=payload,
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert as_json.returncode == 0, as_json.stderr
    objects = [json.loads(line) for line in as_json.stdout.decode().splitlines()]
    assert [o["text"] for o in objects] == out[:-1]
    # Offsets point into the input line: the phone number in the line with zero-width characters.
    (entity,) = objects[4]["entities"]
    assert lines[4][entity["start"] : entity["end"]] == "0770\u200b0 900\u2060456"


def test_analyse_gives_one_json_object_per_line_with_risk_themes_and_sentiment() -> None:
    lines = [
        "my son zayn waited 6 weeks for a call back from the hv, ring me on 07700 900123",
        "i dont want to be here anymore",
        "",
        "the health visitor really listened to me",
    ]
    result = _run("analyse", stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(lines)
    assert all(list(o) == ["text", "risk", "risk_categories", "themes", "sentiment"] for o in out)
    assert out[0]["text"] == (
        "my son [CHILD_1] waited 6 weeks for a call back from the hv, ring me on [PHONE_1]"
    )
    assert out[0]["risk"] is False and "timely_support" in out[0]["themes"]
    assert out[0]["sentiment"] == "negative"
    assert out[1]["risk"] is True and out[1]["risk_categories"] == ["self_harm"]
    assert out[2] == {
        "text": "",
        "risk": False,
        "risk_categories": [],
        "themes": [],
        "sentiment": "neutral",
    }
    assert (
        "communication_parent_as_expert" in out[3]["themes"] and out[3]["sentiment"] == "positive"
    )
    assert "zayn" not in result.stdout and "900123" not in result.stdout


def test_analyse_csv_adds_columns_redacts_the_comments_and_reports_progress(tmp_path: Path) -> None:
    source = tmp_path / "fft.csv"
    source.write_text(
        "id,Comment,ward\r\n"
        '1,"Dr Okafor was rude, and we waited 5 hours",A\r\n'
        '2,=HYPERLINK("x"),B\r\n'
        "3,,C\r\n",
        encoding="utf-8-sig",
    )
    result = _run("analyse", "--csv", str(source), "--column", "Comment")
    assert result.returncode == 0, result.stderr
    assert "3/3 rows" in result.stderr  # the progress bar's last state
    target = tmp_path / "fft.analysed.csv"
    assert f"wrote {target} (3 rows)" in result.stdout
    rows = list(csv.DictReader(target.read_text(encoding="utf-8-sig").splitlines()))
    assert list(rows[0]) == [
        "id", "Comment", "ward", "risk", "risk_categories", "themes", "sentiment",
        "sentiment_confidence",
    ]  # fmt: skip
    assert rows[0]["Comment"] == "Dr [STAFF_1] was rude, and we waited 5 hours"
    assert rows[0]["risk"] == "no" and "timely_support" in rows[0]["themes"].split(";")
    assert rows[0]["sentiment"] == "negative" and rows[0]["ward"] == "A"
    assert rows[1]["Comment"].startswith("'=")  # a formula in the input never runs in Excel
    assert rows[2]["Comment"] == "" and rows[2]["sentiment"] == "neutral"
    assert "Okafor" not in target.read_text(encoding="utf-8-sig")


def test_analyse_csv_mistakes_are_clear_errors(tmp_path: Path) -> None:
    source = tmp_path / "fft.csv"
    source.write_text("id,comment\n1,fine\n", encoding="utf-8")
    missing = _run("analyse", "--csv", str(source), "--column", "Comment")
    assert missing.returncode == 2
    assert "has no column 'Comment'; its columns are: 'id', 'comment'" in missing.stderr
    nofile = _run("analyse", "--csv", str(tmp_path / "nope.csv"), "--column", "comment")
    assert nofile.returncode == 2 and "no such file" in nofile.stderr
    (tmp_path / "latin1.csv").write_bytes("comment\ncaf\xe9\n".encode("latin-1"))
    latin = _run("analyse", "--csv", str(tmp_path / "latin1.csv"), "--column", "comment")
    assert latin.returncode == 2 and "is not UTF-8" in latin.stderr
    alone = _run("analyse", "--csv", str(source))
    assert alone.returncode == 2 and "--csv FILE and --column NAME together" in alone.stderr


def test_staff_add_takes_a_password_from_stdin_or_prints_a_one_time_link(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "PARENTVOICE__DATABASE__URL": f"sqlite:///{tmp_path / 'staff.db'}"}
    with_password = _run(
        "staff", "add", "Lead@Example.org", "--role", "admin", "--password-stdin",
        stdin="a-long-synthetic-password\n", env=env,
    )  # fmt: skip
    assert with_password.returncode == 0, with_password.stderr
    assert with_password.stdout.strip() == "added lead@example.org as admin"
    with_link = _run("staff", "add", "analyst@example.org", "--role", "analyst", env=env)
    assert with_link.returncode == 0, with_link.stderr
    assert "/staff/set-password?token=" in with_link.stdout
    for args, stdin, message in [
        (("lead@example.org", "--role", "admin"), "", "lead@example.org already has an account"),
        (("new@example.org", "--role", "admin", "--password-stdin"), "short\n", "at least 12"),
        (("not-an-email", "--role", "admin"), "", "'not-an-email' is not an email address"),
    ]:
        result = _run("staff", "add", *args, stdin=stdin, env=env)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)


def test_rotating_the_vault_key_reseals_every_address(tmp_path: Path) -> None:
    """Old key → "NEW,OLD" in the environment → `keys rotate-vault` → NEW alone opens them all;
    a key that opens nothing is a clear error, not a crash."""
    import asyncio
    import os
    from datetime import UTC, datetime

    from cryptography.fernet import Fernet
    from sqlalchemy import select

    from bot.vault import Vault
    from storage.db import make_engine, make_sessionmaker, migrate
    from storage.models import Contact, Participant

    old, new = Fernet.generate_key(), Fernet.generate_key()
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    migrate(url)
    phones = [f"+447700900{n:03d}" for n in range(700, 1000)]  # synthetic (Ofcom drama range)

    async def store() -> None:
        engine = make_engine(url)
        async with make_sessionmaker(engine).begin() as session:
            for n, phone in enumerate(phones):
                person = Participant(pseudonym=f"vault-test-{n}", channel="sms", language="en",
                                     created_at=datetime.now(UTC))  # fmt: skip
                session.add(person)
                await session.flush()
                session.add(Contact(participant_id=person.id, created_at=datetime.now(UTC),
                                    address_encrypted=Vault(old).seal(phone)))  # fmt: skip
        await engine.dispose()

    async def opened(key: bytes) -> list[str]:
        engine = make_engine(url)
        async with make_sessionmaker(engine)() as session:
            rows = await session.scalars(select(Contact).order_by(Contact.participant_id))
            found = [Vault(key).open(row.address_encrypted) for row in rows]
        await engine.dispose()
        return found

    asyncio.run(store())
    env = {**os.environ, "PARENTVOICE__DATABASE__URL": url}
    rotating = {**env, "PARENTVOICE__SECURITY__VAULT_KEY": f"{new.decode()},{old.decode()}"}
    result = _run("keys", "rotate-vault", env=rotating)
    assert result.returncode == 0, result.stderr
    assert "re-sealed 300 contact addresses with the newest of 2 vault key(s)" in result.stdout
    assert asyncio.run(opened(new)) == phones  # the new key alone now opens every one

    wrong = {**env, "PARENTVOICE__SECURITY__VAULT_KEY": Fernet.generate_key().decode()}
    refused = _run("keys", "rotate-vault", env=wrong)
    assert refused.returncode == 2
    assert "cannot be read with security.vault_key" in refused.stderr
    assert asyncio.run(opened(new)) == phones  # nothing was changed by the failed run
