"""Sample CPU and memory of the stack's processes every few seconds into a CSV.

Usage: python locustfiles/monitor.py reports/resources.csv name=PID [name=PID ...]
Children (gunicorn and celery workers) are summed into their parent's row;
100 % is one core. A last row per sample, ``machine``, is the whole machine
(all cores busy = 100 % x cores), so what the listed processes leave to the
rest (the kernel, Locust's own children) shows too.
"""
from __future__ import annotations

import csv
import sys
import time

import psutil


def main() -> None:
    out = sys.argv[1]
    targets = {name: psutil.Process(int(pid)) for name, pid in (a.split("=") for a in sys.argv[2:])}
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["time", "process", "cpu_percent", "rss_mb", "processes"])
        procs = {}
        cores = psutil.cpu_count() or 1
        psutil.cpu_percent(None)
        while True:
            now = round(time.time())
            for name, parent in targets.items():
                try:
                    family = [parent] + parent.children(recursive=True)
                except psutil.NoSuchProcess:
                    continue
                cpu = rss = 0.0
                for p in family:
                    try:
                        p = procs.setdefault(p.pid, p)
                        cpu += p.cpu_percent(None)
                        rss += p.memory_info().rss
                    except psutil.NoSuchProcess:
                        pass
                writer.writerow([now, name, round(cpu, 1), round(rss / 2**20, 1), len(family)])
            used = psutil.virtual_memory()
            writer.writerow([now, "machine", round(psutil.cpu_percent(None) * cores, 1),
                             round((used.total - used.available) / 2**20, 1), 0])
            f.flush()
            time.sleep(5)


if __name__ == "__main__":
    main()
