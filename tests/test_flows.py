"""Flow loading, validation and compilation."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.errors import FlowError
from flows.compile import GENERATED_HEADER, compile_flows
from flows.spec import THEMES, load_flows, parse_flow
from tests.harness import ROOT

FLOWS = ROOT / "flows"


@pytest.fixture(scope="module")
def hcp() -> dict[str, Any]:
    return yaml.safe_load((FLOWS / "hcp_experience.yaml").read_text(encoding="utf-8"))


def test_the_shipped_flow_is_valid_and_short() -> None:
    flow = load_flows(FLOWS).flows["hcp_experience"]
    assert len(flow.questions) < 10
    assert flow.questions[0].type == "consent"
    ids = [q.id for q in flow.questions]
    assert {"service", "went_well", "could_be_better", "who", "heard_about", "followup"} <= set(ids)
    assert ids[-1] == "followup"
    touched = {theme for q in flow.questions for theme in q.themes}
    assert touched == set(THEMES), "the probes should touch all seven themes from the seeds"


def test_every_question_fits_one_sms_segment() -> None:
    from bot.segments import segments

    for flow in load_flows(FLOWS).flows.values():
        for q in flow.questions:
            assert segments(q.rendered("en")) == (1, "GSM-7"), q.id


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f.update(spec_version=2), "spec_version must be 1"),
        (
            lambda f: f["questions"][2].update(type="essay"),
            "question 'went_well': type must be one of",
        ),
        (
            lambda f: f["questions"][1]["options"].pop() and f["questions"][1]["options"].clear(),
            "question 'service': a choice needs at least two options",
        ),
        (
            lambda f: f["questions"][3]["text"].pop("en"),
            "question 'could_be_better' text: missing text for language 'en'",
        ),
        (
            lambda f: f["questions"][4].update(id="went_well"),
            "question 'went_well': duplicate question id",
        ),
        (
            lambda f: f["questions"][4].update(themes=["waiting"]),
            "question 'information': themes must be a list",
        ),
        (
            lambda f: f["questions"].insert(0, f["questions"].pop(2)),
            "the first question must ask for consent",
        ),
        (
            lambda f: f["questions"].extend(copy.deepcopy(f["questions"][2:4])),
            "keep it to 9 or fewer",
        ),
        (
            lambda f: f.update(languages={"en": "reviewed", "pl": "draft"}),
            "intro: missing text for language 'pl'",
        ),
    ],
)
def test_validation_errors_name_the_flow_and_question(
    hcp: dict[str, Any], mutate: Any, message: str
) -> None:
    broken = copy.deepcopy(hcp)
    mutate(broken)
    with pytest.raises(FlowError) as caught:
        parse_flow(broken, "hcp_experience.yaml")
    text = str(caught.value)
    assert "flow 'hcp_experience'" in text
    assert message in text


def test_compiling_is_deterministic_and_marked_generated() -> None:
    first = compile_flows(load_flows(FLOWS))
    second = compile_flows(load_flows(FLOWS))
    assert first == second
    for content in first.values():
        assert content.startswith(GENERATED_HEADER)


def test_committed_rasa_files_match_the_flows() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "flows", "compile", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_validate_command_reports_errors_and_exits_nonzero(
    tmp_path: Path, hcp: dict[str, Any]
) -> None:
    bad = copy.deepcopy(hcp)
    bad["questions"][2]["type"] = "essay"
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "hcp_experience.yaml").write_text(yaml.safe_dump(bad), encoding="utf-8")
    (tmp_path / "flows" / "messages.yaml").write_text(
        (FLOWS / "messages.yaml").read_text(), encoding="utf-8"
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        (ROOT / "config.yaml").read_text().replace("  dir: flows", f"  dir: {tmp_path / 'flows'}")
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "flows", "validate"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "error: flow 'hcp_experience' question 'went_well': type must be one of" in result.stderr


def test_validate_reports_segments_and_warns_on_ucs2_or_long_texts(hcp: dict[str, Any]) -> None:
    from flows.spec import FlowSet, lint, parse_flow, segment_report

    shipped = load_flows(FLOWS)
    assert lint(shipped) == []
    report = {item.where: item for item in segment_report(shipped)}
    assert report["flow 'hcp_experience' question 'service' [en]"].segments == 1
    assert report["messages 'help' [en]"].encoding == "GSM-7"

    noisy = copy.deepcopy(hcp)
    noisy["questions"][2]["text"]["en"] = "What went well? \u2019Tell us\u2019 \U0001f642"
    noisy["questions"][3]["text"]["en"] = "Tell us more. " * 30
    warnings = [
        str(w) for w in lint(FlowSet({"hcp_experience": parse_flow(noisy, "x")}, shipped.messages))
    ]
    assert any(
        "question 'went_well'" in w and "forces UCS-2" in w and "\u2019" in w for w in warnings
    )
    assert any(
        "question 'could_be_better'" in w and "3 SMS segments; keep it to 2" in w for w in warnings
    )


def test_the_committed_rasa_files_are_what_the_flows_compile_to() -> None:
    """nlu/domain.yml and nlu/data/rules.yml are generated: a flow change must come with them."""
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "flows", "compile", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
