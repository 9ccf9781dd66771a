"""Known vulnerabilities in what the app and Rasa run on: pip-audit over each virtualenv's pins.

pip-audit says "No known vulnerabilities found" even when it could look none of the packages up
(its vulnerability service unreachable, as on a machine that reaches only a package mirror). So
this reads its JSON and says how many packages were really checked:

- a known vulnerability in a checked package fails (exit 1), with the advisory and the fix;
- packages that could not be checked are counted and named on one line, loudly, but do not fail:
  the audit did not happen, and CI says so rather than pretending it passed.

Usage: python tools/audit.py PIP-AUDIT VENV [VENV ...]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path


def audit(pip_audit: str, venv: Path) -> tuple[int, int, list[str]]:
    """(checked, not checked, findings) for one virtualenv."""
    frozen = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "freeze", "--exclude-editable"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        requirements, report = Path(tmp) / "requirements.txt", Path(tmp) / "report.json"
        requirements.write_text(frozen, encoding="utf-8")
        subprocess.run(
            [
                pip_audit,
                "--requirement",
                str(requirements),
                "--no-deps",
                "--disable-pip",
                "--progress-spinner",
                "off",
                "--format",
                "json",
                "--output",
                str(report),
            ],
            capture_output=True,
            text=True,
        )  # fmt: skip  (its exit code is 1 on findings; the report says everything)
        if not report.exists():
            return 0, len(frozen.splitlines()), []
        dependencies = json.loads(report.read_text(encoding="utf-8"))["dependencies"]
    checked = [d for d in dependencies if "skip_reason" not in d]
    findings = [
        f"{d['name']} {d['version']}: {v['id']} (fixed in {', '.join(v['fix_versions']) or 'none yet'})"
        for d in checked
        for v in d.get("vulns", [])
    ]
    return len(checked), len(dependencies) - len(checked), findings


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    pip_audit, venvs = argv[0], [Path(v) for v in argv[1:]]
    failed = False
    for venv in venvs:
        checked, unchecked, findings = audit(pip_audit, venv)
        print(
            f"pip-audit {venv}: {checked} packages checked, {len(findings)} known vulnerabilities"
        )
        for finding in findings:
            print(f"  VULNERABLE {finding}")
        if unchecked:
            print(
                f"  NOT AUDITED: {unchecked} packages could not be looked up (the vulnerability "
                "service is unreachable from here); run `make audit` where it is reachable"
            )
        failed = failed or bool(findings)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
