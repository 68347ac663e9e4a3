"""docs/api.md comes from a real run: the generator must keep working."""
from __future__ import annotations

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_api_examples_script_records_real_answers_for_the_stats_endpoints():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    run = subprocess.run([sys.executable, "scripts/api_examples.py", "--stdout"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    text = run.stdout
    answers = dict(re.findall(r"#### (GET `/stats/[a-z/]+)\?[^`]*`.*?→ \*\*(\d{3})\*\*", text, re.S))
    assert {"GET `/stats/revenue/daily", "GET `/stats/revenue/monthly", "GET `/stats/vip/count"} <= set(answers)
    assert '"total": ' in text and '"currency": "XOF"' in text
    assert "#### POST `/auth/login`" in text and "→ **200**" in text
    assert not re.search(r"eyJ[\w-]{20,}\.", text)  # no whole JWT in the docs, only a shortened one
