"""scripts/audit's logic: run bandit and pip-audit, apply the documented exceptions.

Exit 0 when clean (or every finding is excepted), 1 otherwise. The advisory
database is fetched over the network; when it cannot be reached the
dependencies are reported as NOT audited, which fails only with AUDIT_STRICT=1.
"""
from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
FAILING_SEVERITIES = {"MEDIUM", "HIGH"}


def load_exceptions() -> dict:
    with open(ROOT / "scripts" / "audit-exceptions.toml", "rb") as handle:
        data = tomllib.load(handle)
    for kind in ("bandit", "pip_audit"):
        for entry in data.get(kind, []):
            if not entry.get("reason", "").strip():
                sys.exit(f"audit-exceptions.toml: {kind} entry {entry} has no reason")
    return data


def run_bandit(exceptions: list[dict]) -> int:
    out = subprocess.run([str(VENV_BIN / "bandit"), "-r", "kiosk", "-q", "-f", "json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    results = json.loads(out.stdout or "{}").get("results", [])
    failing = 0
    for result in results:
        path = os.path.relpath(result["filename"], ROOT) if os.path.isabs(result["filename"]) else result["filename"]
        excepted = any(e["test_id"] == result["test_id"] and fnmatch.fnmatch(path, e["path"]) for e in exceptions)
        fails = result["issue_severity"] in FAILING_SEVERITIES and not excepted
        failing += fails
        tag = "FAIL" if fails else ("excepted" if excepted else "low")
        print(f"bandit {tag:8} {result['test_id']} {path}:{result['line_number']} "
              f"[{result['issue_severity']}/{result['issue_confidence']}] {result['issue_text']}")
    print(f"bandit: {len(results)} findings, {failing} failing")
    return failing


def run_pip_audit(exceptions: list[dict]) -> tuple[int, bool]:
    try:
        out = subprocess.run([str(VENV_BIN / "pip-audit"), "--local", "--progress-spinner", "off", "-f", "json",
                              "--timeout", "10"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        print("pip-audit: WARNING timed out reaching the advisory database: dependencies were NOT audited")
        return 0, False
    try:
        dependencies = json.loads(out.stdout)["dependencies"]
    except (ValueError, KeyError):
        print(f"pip-audit: could not run: {out.stderr.strip()[-500:]}")
        return 0, False
    ignored = {e["id"] for e in exceptions}
    failing, audited = 0, 0
    for dep in dependencies:
        if "skip_reason" in dep:
            continue
        audited += 1
        for vuln in dep.get("vulns", []):
            ids = {vuln["id"], *vuln.get("aliases", [])}
            if ids & ignored:
                print(f"pip-audit excepted {dep['name']} {dep['version']} {vuln['id']}")
                continue
            failing += 1
            print(f"pip-audit FAIL     {dep['name']} {dep['version']} {vuln['id']} fix: {vuln.get('fix_versions')}")
    skipped = len(dependencies) - audited
    print(f"pip-audit: {audited} dependencies audited, {skipped} skipped, {failing} vulnerable")
    if audited == 0:
        print("pip-audit: WARNING the advisory database was not reachable: dependencies were NOT audited")
    return failing, audited > 0


def main() -> int:
    exceptions = load_exceptions()
    failing = run_bandit(exceptions.get("bandit", []))
    vulnerable, audited = run_pip_audit(exceptions.get("pip_audit", []))
    failing += vulnerable
    if not audited and os.environ.get("AUDIT_STRICT") == "1":
        failing += 1
    print("audit: " + ("clean" if not failing else f"{failing} problem(s)"))
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
