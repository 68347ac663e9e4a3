"""Display reconnect storm: N screens open their WebSocket at once on a fresh display process.

    .venv/bin/python benchmarks/ws_storm.py --screens 1000 --rounds 2
    .venv/bin/python benchmarks/ws_storm.py --code /work/main --code . --rounds 2   # before/after, one run
    .venv/bin/python benchmarks/ws_storm.py --workers 1 --workers 2                  # DISPLAY_CONCURRENCY

The display process is started as the Procfile's ``display`` line does
(gunicorn, ``gunicorn.conf.py``, gevent workers, WEB_CONCURRENCY=``--workers``) on a
throwaway Postgres database seeded with ``--establishments`` x ``--displays``
display tokens (50 x 20 = 1,000 by default, two queues and a few tickets each,
so every snapshot has content) and a leased Redis db. Each ``--code`` tree is
started in turn on the same data (so ``--code /work/main --code .`` compares
before and after in one run, on the same noisy machine).

A round = every screen connects at once (each to its own token), waits for
its first message (the snapshot), then all of them close. The first round of
each server is the restart case (cold process: nothing cached); later rounds
show the warm process. The client is asyncio on raw sockets, split over
``--client-procs`` processes; its CPU is reported so a client-bound result is
visible.

Reported per round: time until every screen had its snapshot, p50/p95/max of
the handshake (connect -> 101) and of the first state (connect -> snapshot
complete), failures, and the display worker's CPU (utime+stime from /proc)
per connection (summed over the workers).

Not a test: run it by hand; figures go to docs/performance.md.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.support import lease_redis, throwaway_database  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- the screens (client processes) -------------------------------------------------

async def _one_screen(port: int, token: str, start_at: float, timeout: float) -> dict:
    """Connect, upgrade, read frames until a snapshot; times relative to the screen's own connect."""
    delay = start_at - time.time()
    if delay > 0:
        await asyncio.sleep(delay)
    t0 = time.perf_counter()
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            key = base64.b64encode(os.urandom(16)).decode()
            writer.write((f"GET /ws/display/{token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                          "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
            head = await reader.readuntil(b"\r\n\r\n")
            handshake = time.perf_counter() - t0
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                return {"ok": False, "error": head.split(b"\r\n", 1)[0].decode(errors="replace")}
            while True:
                b0, b1 = await reader.readexactly(2)
                length = b1 & 0x7F
                if length == 126:
                    length = int.from_bytes(await reader.readexactly(2), "big")
                elif length == 127:
                    length = int.from_bytes(await reader.readexactly(8), "big")
                payload = await reader.readexactly(length)
                if b0 & 0x0F == 1 and payload.startswith(b'{"type":"snapshot"'):
                    break
            first = time.perf_counter() - t0
            return {"ok": True, "handshake": handshake, "first": first, "done": time.time(), "bytes": length}
    except TimeoutError:
        return {"ok": False, "error": "timeout"}
    except (OSError, asyncio.IncompleteReadError) as exc:
        return {"ok": False, "error": type(exc).__name__}
    finally:
        if writer is not None:
            writer.close()


async def _screens(port: int, tokens: list[str], start_at: float, timeout: float, sequential: bool) -> list[dict]:
    if sequential:  # one screen after the other: a clean profile of one handshake
        return [await _one_screen(port, t, start_at, timeout) for t in tokens]
    return await asyncio.gather(*(_one_screen(port, t, start_at, timeout) for t in tokens))


def client_process(port, tokens, start_at, timeout, sequential, pipe) -> None:
    cpu0 = time.process_time()
    results = asyncio.run(_screens(port, tokens, start_at, timeout, sequential))
    pipe.send({"results": results, "cpu": time.process_time() - cpu0})


# --- the server ------------------------------------------------------------------------

PROFILED_CONF = """
exec(open("gunicorn.conf.py").read())
_post_worker_init = post_worker_init


def post_worker_init(worker):
    _post_worker_init(worker)
    import cProfile
    import time
    worker._storm_profile = cProfile.Profile(time.process_time)
    worker._storm_profile.enable()


def worker_exit(server, worker):
    worker._storm_profile.disable()
    worker._storm_profile.dump_stats({path!r})
"""


def start_display(code: str, env: dict, port: int, profile: str | None = None,
                  workers: int = 1) -> subprocess.Popen:
    """The Procfile's display line, bound to a loopback port (optionally under cProfile)."""
    env = {**env, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers), "GUNICORN_WORKER_CLASS": "gevent",
           "PYTHONPATH": code}
    conf = "gunicorn.conf.py"
    if profile:
        conf = f"/tmp/ws_storm_gunicorn_{port}.py"
        with open(conf, "w") as f:
            f.write(PROFILED_CONF.format(path=os.path.abspath(profile)))
    process = subprocess.Popen([os.path.join(ROOT, ".venv/bin/gunicorn"), "-c", conf, "wsgi:app"],
                               cwd=code, env=env, stdout=subprocess.DEVNULL, stderr=open(f"/tmp/ws_storm_{port}.log", "w"),
                               start_new_session=True)
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return process
        except Exception:  # noqa: BLE001
            if time.time() > deadline or process.poll() is not None:
                raise RuntimeError(f"gunicorn did not start (see /tmp/ws_storm_{port}.log)")
            time.sleep(0.2)


def worker_pids(master: subprocess.Popen, count: int) -> list[int]:
    deadline = time.time() + 20
    while time.time() < deadline:
        out = subprocess.run(["pgrep", "-P", str(master.pid)], capture_output=True, text=True).stdout.split()
        if len(out) >= count:
            return [int(p) for p in out]
        time.sleep(0.1)
    raise RuntimeError("no worker")


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def machine_busy() -> tuple[float, float]:
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) / CLK_TCK, idle / CLK_TCK


# --- data ----------------------------------------------------------------------------------

def seed(app, establishments: int, displays: int) -> list[str]:
    from flask_migrate import upgrade

    from kiosk.display.services import create_display
    from kiosk.establishments.services import create_establishment
    from kiosk.queues.services import create_queue, issue_ticket
    from kiosk.tenancy import tenant_scope

    tokens = []
    with app.app_context():
        upgrade(revision="heads")
        for n in range(establishments):
            est = create_establishment(f"Storm {n:03d}", "Africa/Abidjan", "XOF", 500, "fr")
            with tenant_scope(est.id):
                queues = [create_queue("Consultations", "A"), create_queue("Caisse", "C")]
                for i in range(6):
                    issue_ticket(queues[i % 2], "VIP" if i == 5 else "STANDARD")
                tokens.extend(create_display(f"TV {s}").token for s in range(displays))
    return tokens


# --- one round ----------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def storm(port: int, pid: list[int], tokens: list[str], procs: int, timeout: float, sequential: bool = False) -> dict:
    start_at = time.time() + 1.0  # every client process is ready before the first connect
    chunks = [tokens[i::procs] for i in range(procs)]
    pipes, workers = [], []
    for chunk in chunks:
        parent, child = multiprocessing.Pipe(duplex=False)
        proc = multiprocessing.Process(target=client_process, args=(port, chunk, start_at, timeout, sequential, child))
        proc.start()
        pipes.append(parent)
        workers.append(proc)
    while time.time() < start_at - 0.05:
        time.sleep(0.01)
    server0, (total0, idle0) = cpu_seconds(pid), machine_busy()
    answers = [p.recv() for p in pipes]
    # CPU until the last snapshot went out (the closes afterwards cost the server a little too).
    server_cpu = cpu_seconds(pid) - server0
    total1, idle1 = machine_busy()
    for proc in workers:
        proc.join(10)
    results = [r for a in answers for r in a["results"]]
    ok = [r for r in results if r["ok"]]
    errors: dict[str, int] = {}
    for r in results:
        if not r["ok"]:
            errors[r["error"]] = errors.get(r["error"], 0) + 1
    wall = (max(r["done"] for r in ok) - start_at) if ok else float("nan")
    handshakes = [r["handshake"] * 1000 for r in ok]
    firsts = [r["first"] * 1000 for r in ok]
    return {
        "screens": len(tokens), "connected": len(ok), "failed": len(results) - len(ok), "errors": errors,
        "all_in_s": round(wall, 2),
        "handshake_ms": {"p50": round(statistics.median(handshakes)) if ok else None,
                         "p95": round(percentile(handshakes, 95)) if ok else None,
                         "max": round(max(handshakes)) if ok else None},
        "first_state_ms": {"p50": round(statistics.median(firsts)) if ok else None,
                           "p95": round(percentile(firsts, 95)) if ok else None,
                           "max": round(max(firsts)) if ok else None},
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_ms_per_connection": round(server_cpu * 1000 / max(1, len(tokens)), 2),
        "client_cpu_s": round(sum(a["cpu"] for a in answers), 2),
        "machine_busy_pct": round(100 * (1 - (idle1 - idle0) / max(1e-9, total1 - total0)) , 0),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--screens", type=int, default=1000)
    parser.add_argument("--establishments", type=int, default=50)
    parser.add_argument("--displays", type=int, default=20, help="per establishment")
    parser.add_argument("--rounds", type=int, default=2, help="storms per server start (first = cold)")
    parser.add_argument("--repeat", type=int, default=1, help="start each --code this many times, alternating")
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=30.0, help="per screen, like Locust's")
    parser.add_argument("--sequential", action="store_true",
                        help="connect one screen at a time (to profile one handshake, not to judge the storm)")
    parser.add_argument("--profile", help="write the display worker's cProfile stats here (last server started)")
    parser.add_argument("--workers", type=int, action="append", default=None,
                        help="display workers (WEB_CONCURRENCY; repeatable: each --code runs with each)")
    parser.add_argument("--code", action="append", default=None,
                        help="checkout to serve from (repeatable; default: this one)")
    args = parser.parse_args()
    codes = [os.path.abspath(c) for c in (args.code or [ROOT])]

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    database_url, drop_database = throwaway_database("kiosk_bench_storm")
    redis_url, release_redis = lease_redis()
    from cryptography.fernet import Fernet

    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "KIOSK_ENV": "bench",
           "SECRET_KEY": "bench-secret-" + "x" * 32, "DEVICE_SECRET_KEYS": Fernet.generate_key().decode(),
           # The limiter stays on (its cost is part of a handshake) but must not refuse the storm itself.
           "RATELIMIT_IP_DEFAULT": "1000000/minute"}
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "KIOSK_ENV", "SECRET_KEY",
                                           "DEVICE_SECRET_KEYS")})
    from kiosk import create_app

    app = create_app()
    rows = []
    try:
        tokens = seed(app, args.establishments, args.displays)[:args.screens]
        with app.app_context():
            from kiosk.extensions import db

            db.engine.dispose()
        for _ in range(args.repeat):
            for code, workers in [(c, w) for c in codes for w in (args.workers or [1])]:
                port = _free_port()
                master = start_display(code, env, port, args.profile, workers)
                try:
                    pid = worker_pids(master, workers)
                    for round_no in range(1, args.rounds + 1):
                        row = {"code": code, "workers": workers, "round": round_no,
                               **storm(port, pid, tokens, args.client_procs, args.timeout, args.sequential)}
                        rows.append(row)
                        print(json.dumps(row), flush=True)
                        time.sleep(2.0)  # the closes are handled before the next round
                finally:
                    os.killpg(master.pid, signal.SIGTERM)
                    master.wait(30)
        print()
        print("| code | workers | round | connected | all in (s) | handshake p50 / p95 / max ms | first state p50 / p95 / max ms "
              "| display CPU s (ms per screen) | client CPU s | machine busy |")
        print("|---|---:|---:|---:|---:|---|---|---|---:|---:|")
        for r in rows:
            h, f = r["handshake_ms"], r["first_state_ms"]
            print(f"| {os.path.basename(r['code']) or r['code']} | {r['workers']} | {r['round']} | {r['connected']}/{r['screens']} "
                  f"| {r['all_in_s']} | {h['p50']} / {h['p95']} / {h['max']} | {f['p50']} / {f['p95']} / {f['max']} "
                  f"| {r['server_cpu_s']} ({r['server_cpu_ms_per_connection']}) | {r['client_cpu_s']} "
                  f"| {r['machine_busy_pct']:.0f} % |")
    finally:
        drop_database()
        release_redis()


if __name__ == "__main__":
    main()
