"""The `parentvoice` command line: redact and export, as an operator runs them."""

from __future__ import annotations

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
