"""Display fan-out benchmark: N screens on ONE web process, call-to-screen latency and memory.

    .venv/bin/python benchmarks/display_fanout.py --connections 100 500 1000 --events 40

For each N: a fresh throwaway Postgres database and one gunicorn worker
(``gunicorn.conf.py``, worker class from ``--worker-class``), N WebSocket
screens of one establishment (the worst case: every event goes to all N),
held by 2 client processes with raw non-blocking sockets (so the load
generator adds as little latency as possible), then ``--events`` "called"
events published with ``kiosk.events.publish`` from this process, like a
Celery worker would, 100 ms apart.

- latency = receive time on the screen - ``sent_at`` (set by publish), over
  all N x events samples: p50, p99, max;
- memory per connection = (worker RSS with N screens - RSS after a warm-up
  with none) / N; "kept" = RSS after all screens left, minus the baseline
  (``--cycles 3`` repeats connect/disconnect to show whether it keeps growing).

Not a test: run it by hand; figures go to docs/performance.md.
"""
from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.support import lease_redis, throwaway_database  # noqa: E402


# --- screens (client processes) -----------------------------------------------------

def _mask(payload: bytes) -> bytes:
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes((0x81, 0x80 | len(payload))) + key + masked  # pongs are < 126 bytes


def _handshake(address: tuple[str, int], path: str) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(address, timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {address[0]}:{address[1]}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed during handshake")
        head += chunk
    status = head.split(b"\r\n", 1)[0]
    if b" 101 " not in status:
        raise ConnectionError(status.decode())
    sock.setblocking(False)
    return sock, head.split(b"\r\n\r\n", 1)[1]  # bytes after the headers are frames already


def _frames(buffer: bytearray):
    """Yield complete (opcode, payload) frames, consuming them from ``buffer``."""
    while len(buffer) >= 2:
        length, offset = buffer[1] & 0x7F, 2
        if length == 126:
            if len(buffer) < 4:
                return
            length, offset = int.from_bytes(buffer[2:4], "big"), 4
        elif length == 127:
            if len(buffer) < 10:
                return
            length, offset = int.from_bytes(buffer[2:10], "big"), 10
        if len(buffer) < offset + length:
            return
        opcode, payload = buffer[0] & 0x0F, bytes(buffer[offset:offset + length])
        del buffer[:offset + length]
        yield opcode, payload


def screens(address, path, count, pipe) -> None:
    """Hold ``count`` screens; answer pings; time every "called" frame."""
    selector = selectors.DefaultSelector()
    buffers = {}
    snapshots = 0
    for _ in range(count):
        sock, rest = _handshake(address, path)
        buffers[sock] = bytearray(rest)
        selector.register(sock, selectors.EVENT_READ)
    samples, closed = [], 0
    pipe.send("connected")
    stop_at = None
    while True:
        if pipe.poll():
            message = pipe.recv()
            if message == "stop":
                stop_at = time.time() + 1.0
        if stop_at and time.time() > stop_at:
            break
        for key, _ in selector.select(timeout=0.05):
            sock = key.fileobj
            try:
                chunk = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            received = time.time()
            if not chunk:
                selector.unregister(sock)
                closed += 1
                continue
            buffer = buffers[sock]
            buffer += chunk
            for opcode, payload in _frames(buffer):
                if opcode != 1:
                    continue
                if b'"type": "ping"' in payload or b'"type":"ping"' in payload:
                    t = json.loads(payload)["t"]
                    sock.send(_mask(json.dumps({"type": "pong", "t": t}).encode()))
                elif b'"type": "called"' in payload or b'"type":"called"' in payload:
                    samples.append((received, payload))
                elif b'"type":"snapshot"' in payload:
                    snapshots += 1
    latencies = [(received - json.loads(payload)["sent_at"]) * 1000 for received, payload in samples]
    pipe.send({"latencies": latencies, "closed": closed, "snapshots": snapshots})
    for sock in buffers:
        sock.close()


# --- server and data -------------------------------------------------------------------

def http_load(address, paths, threads, stop, counter) -> None:
    """Keep-alive GETs from ``threads`` threads until ``stop`` is set; counts answers."""
    import http.client
    import threading

    def loop(index: int) -> None:
        conn = http.client.HTTPConnection(*address, timeout=10)
        i = index
        while not stop.is_set():
            try:
                conn.request("GET", paths[i % len(paths)])
                conn.getresponse().read()
                with counter.get_lock():
                    counter.value += 1
            except Exception:  # noqa: BLE001 - reconnect and go on
                conn.close()
                conn = http.client.HTTPConnection(*address, timeout=10)
            i += 1

    workers = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def seed(app) -> tuple[str, str]:
    from flask_migrate import upgrade

    from kiosk.establishments.services import create_establishment
    from kiosk.display.services import create_display
    from kiosk.queues.services import create_queue, issue_ticket
    from kiosk.tenancy import tenant_scope

    with app.app_context():
        upgrade(revision="heads")
        establishment = create_establishment("Bench clinic", "Africa/Abidjan", "XOF", 500)
        with tenant_scope(establishment.id):
            queue = create_queue("General", "A")
            for _ in range(5):
                issue_ticket(queue)
            issue_ticket(queue, "VIP")
            display = create_display("Bench TV")
            return str(establishment.id), display.token


def start_server(env: dict, worker_class: str, port: int, threads: int) -> subprocess.Popen:
    cmd = [os.path.join(ROOT, ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"]
    env = {**env, "WEB_CONCURRENCY": "1", "BIND": f"127.0.0.1:{port}", "GUNICORN_WORKER_CLASS": worker_class}
    if worker_class == "gthread":
        cmd[1:1] = ["--threads", str(threads)]
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return process
        except Exception:  # noqa: BLE001
            if time.time() > deadline or process.poll() is not None:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.1)


def worker_pid(master: subprocess.Popen) -> int:
    out = subprocess.run(["pgrep", "-P", str(master.pid)], capture_output=True, text=True).stdout.split()
    return int(out[0])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def run_one(n: int, events: int, worker_class: str, env: dict, establishment_id: str, token: str,
            app, cycles: int = 1, http_threads: int = 0) -> dict:
    port = _free_port()
    master = start_server(env, worker_class, port, threads=n + 100)
    try:
        address, path = ("127.0.0.1", port), f"/ws/display/{token}"
        pid = worker_pid(master)
        _warm_up(address, path)
        time.sleep(1.0)
        baseline = rss_kb(pid)
        loaded_list, after_list, results = [], [], []
        stop, answered, load = multiprocessing.Event(), multiprocessing.Value("l", 0), None
        if http_threads:
            paths = [f"/display/{token}/state.json", "/health"]
            load = multiprocessing.Process(target=http_load, args=(address, paths, http_threads, stop, answered),
                                           daemon=True)
            load.start()
        started = time.time()
        for _cycle in range(cycles):
            loaded, after, cycle_results = _one_cycle(n, events, address, path, pid, establishment_id, app)
            loaded_list.append(loaded)
            after_list.append(after)
            results.extend(cycle_results)
        http_rps = answered.value / (time.time() - started)
        if load is not None:
            stop.set()
            load.join(15)
    finally:
        os.killpg(master.pid, signal.SIGTERM)
        master.wait(20)
    latencies = [x for r in results for x in r["latencies"]]
    return {
        "connections": n, "worker_class": worker_class, "events": events,
        "samples": len(latencies), "expected_samples": n * events * cycles,
        "p50_ms": round(statistics.median(latencies), 1), "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies), 1),
        "rss_baseline_mb": round(baseline / 1024, 1), "rss_loaded_mb": round(loaded_list[0] / 1024, 1),
        "kb_per_connection": round((loaded_list[0] - baseline) / n, 1),
        "kept_after_disconnect_mb": round((after_list[0] - baseline) / 1024, 1),
        "kept_after_each_cycle_mb": [round((a - baseline) / 1024, 1) for a in after_list],
        "dropped": sum(r["closed"] for r in results),
        "http_req_per_s_meanwhile": round(http_rps) if http_threads else 0,
    }


def _one_cycle(n, events, address, path, pid, establishment_id, app) -> tuple[int, int, list]:
    """Connect n screens, publish the events, disconnect: RSS loaded and after."""
    from kiosk.display.bus import publish

    pipes, procs = [], []
    for count in (n // 2 + n % 2, n // 2):
        if not count:
            continue
        parent, child = multiprocessing.Pipe()
        proc = multiprocessing.Process(target=screens, args=(address, path, count, child), daemon=True)
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    for pipe in pipes:
        assert pipe.recv() == "connected"
    time.sleep(2.0)  # every snapshot sent, memory settled
    loaded = rss_kb(pid)
    with app.app_context():
        for i in range(events):
            publish(establishment_id, {"type": "called", "ticket": {
                "ticket_id": str(uuid.uuid4()), "code": f"A-{i:03d}", "kind": "STANDARD", "counter": "1",
                "queue_id": str(uuid.uuid4())}})
            time.sleep(0.1)
    for pipe in pipes:
        pipe.send("stop")
    results = [pipe.recv() for pipe in pipes]
    for proc in procs:
        proc.join(10)
    time.sleep(2.0)
    return loaded, rss_kb(pid), results


def _warm_up(address, path) -> None:
    # Imports, the hub's subscriber and the DB pool exist before the baseline.
    for _ in range(3):
        sock, _rest = _handshake(address, path)
        time.sleep(0.2)
        sock.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--worker-class", default="gevent", choices=["gevent", "gthread"])
    parser.add_argument("--cycles", type=int, default=1,
                        help="connect/disconnect cycles per N on the same worker (is kept memory reused?)")
    parser.add_argument("--http-threads", type=int, default=0,
                        help="also load the same worker with HTTP GETs (state.json, /health) from this many threads")
    args = parser.parse_args()

    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    database_url, drop_database = throwaway_database("kiosk_bench_display")
    redis_url, release_redis = lease_redis()
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "KIOSK_ENV": "bench",
           "SECRET_KEY": "bench-secret-" + "x" * 32, "RATELIMIT_ENABLED": "0"}
    from cryptography.fernet import Fernet

    env["DEVICE_SECRET_KEYS"] = Fernet.generate_key().decode()
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "KIOSK_ENV", "SECRET_KEY",
                                           "DEVICE_SECRET_KEYS")})
    from kiosk import create_app

    app = create_app()
    try:
        establishment_id, token = seed(app)
        rows = []
        for n in args.connections:
            row = run_one(n, args.events, args.worker_class, env, establishment_id, token, app, args.cycles,
                          args.http_threads)
            rows.append(row)
            print(json.dumps(row), flush=True)
        print()
        print("| screens | worker | HTTP req/s meanwhile | p50 ms | p99 ms | max ms | RSS MB (0 -> N) "
              "| KB per screen | kept after MB |")
        print("|---:|---|---:|---:|---:|---:|---|---:|---:|")
        for r in rows:
            print(f"| {r['connections']} | {r['worker_class']} | {r['http_req_per_s_meanwhile']} | {r['p50_ms']} "
                  f"| {r['p99_ms']} | {r['max_ms']} | {r['rss_baseline_mb']} -> {r['rss_loaded_mb']} "
                  f"| {r['kb_per_connection']} | {r['kept_after_disconnect_mb']} |")
    finally:
        with app.app_context():
            from kiosk.extensions import db

            db.engine.dispose()
        drop_database()
        release_redis()


if __name__ == "__main__":
    main()
