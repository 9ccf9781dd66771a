"""tools/audit.py reads pip-audit's report: a finding fails, packages it could not look up are
reported as not audited (pip-audit itself would say "No known vulnerabilities found")."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.harness import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import audit  # noqa: E402


def fake_pip_audit(tmp_path: Path, dependencies: list[dict[str, object]]) -> str:
    """A stand-in for pip-audit that writes this report wherever --output says."""
    script = tmp_path / "pip-audit"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "out = sys.argv[sys.argv.index('--output') + 1]\n"
        f"json.dump({{'dependencies': {json.dumps(dependencies)}}}, open(out, 'w'))\n"
        "sys.exit(1)\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return str(script)


def test_a_known_vulnerability_fails_with_its_advisory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = [
        {"name": "jinja2", "version": "3.1.0", "vulns": [
            {"id": "GHSA-0000-synthetic", "fix_versions": ["3.1.6"]}]},
        {"name": "httpx", "version": "0.28.1", "vulns": []},
    ]  # fmt: skip
    assert audit.main([fake_pip_audit(tmp_path, report), sys.prefix]) == 1
    printed = capsys.readouterr().out
    assert "2 packages checked, 1 known vulnerabilities" in printed
    assert "VULNERABLE jinja2 3.1.0: GHSA-0000-synthetic (fixed in 3.1.6)" in printed


def test_packages_that_could_not_be_looked_up_are_reported_not_passed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = [{"name": "httpx", "skip_reason": "Dependency not found on PyPI"}]
    assert audit.main([fake_pip_audit(tmp_path, report), sys.prefix]) == 0
    printed = capsys.readouterr().out
    assert "0 packages checked" in printed
    assert "NOT AUDITED: 1 packages could not be looked up" in printed
