"""Summarise one load run's CSVs into Markdown (for docs/load-test.md)."""
from __future__ import annotations

import csv
import json
import os
import sys
from collections import defaultdict

scenario = sys.argv[1] if len(sys.argv) > 1 else "baseline"
reports = os.environ.get("LOAD_REPORT_DIR", "reports")


def rows(name: str) -> list[dict]:
    path = os.path.join(reports, name)
    return list(csv.DictReader(open(path))) if os.path.exists(path) else []


print(f"### Scenario `{scenario}`\n")
thresholds = json.load(open(os.path.join(reports, f"{scenario}_thresholds.json"))) \
    if os.path.exists(os.path.join(reports, f"{scenario}_thresholds.json")) else {}
print(f"Threshold breached: **{thresholds.get('breached') or 'none'}**\n")
print("| type | name | requests | failures | median ms | p95 ms | p99 ms | req/s |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for r in rows(f"{scenario}_stats.csv"):
    print(f"| {r['Type']} | {r['Name']} | {r['Request Count']} | {r['Failure Count']} | {r['50%']} | {r['95%']} "
          f"| {r['99%']} | {float(r['Requests/s']):.1f} |")
resources = rows(f"{scenario}_resources.csv")
if resources:
    per = defaultdict(list)
    for r in resources:
        per[r["process"]].append((float(r["cpu_percent"]), float(r["rss_mb"])))
    print("\n| process | mean CPU % | max CPU % | max RSS MB |")
    print("|---|---:|---:|---:|")
    for name, samples in per.items():
        cpus = [c for c, _ in samples[1:]] or [0]
        print(f"| {name} | {sum(cpus) / len(cpus):.0f} | {max(cpus):.0f} | {max(m for _, m in samples):.0f} |")
windows = thresholds.get("windows") or []
if windows:
    # One row per step. HTTP req/s from the request counter (Locust's current_rps
    # also counts WebSocket frames); p95 is the worst 10 s window of the step;
    # CPU is each process's mean over the step (100 % = one core).
    steps: dict[float, list[dict]] = defaultdict(list)
    for w in windows:
        steps[w["step_rps"]].append(w)
    names = list(dict.fromkeys(r["process"] for r in resources))
    print("\n| step target req/s | users | HTTP req/s | worst p95 ms | payment lag median s | "
          + " | ".join(f"{n} CPU %" for n in names) + " |")
    print("|---:|---:|---:|---:|---:|" + "---:|" * len(names))
    previous = None
    for step, ws in steps.items():
        first = previous or ws[0]
        last = ws[-1]
        seconds = max(1, last["t"] - first["t"])
        rate = (last["requests"] - first["requests"]) / seconds
        start = first["t"]
        cpu = []
        for name in names:
            samples = [float(r["cpu_percent"]) for r in resources
                       if r["process"] == name and start < int(r["time"]) <= last["t"]]
            cpu.append(f"{sum(samples) / len(samples):.0f}" if samples else "-")
        print(f"| {step:g} | {last['users']} | {rate:.0f} | {max(w['p95_ms'] for w in ws):.0f} | "
              f"{last['payment_lag_median_s']} | " + " | ".join(cpu) + " |")
        previous = last
