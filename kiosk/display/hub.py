"""Fan-out of establishment events to connected TVs.

One Redis subscriber per web process (``PSUBSCRIBE est:*:events``), started
lazily by the first display that connects, dispatches each event to the
screens of that establishment connected to this process. So any web process
serves any display, and an event published by a Celery worker reaches every
screen, with one Redis connection per process rather than one per TV.

Why it is cheap at 1,000 screens:

- each event is framed once (server frames are unmasked, so the bytes are the
  same for every client) and written with one non-blocking ``send`` per
  screen; no per-client JSON encoding, no per-client greenlet or queue;
- a screen whose socket is full gets its remainder queued and a flusher
  greenlet of its own, so one slow TV never delays the others; past
  ``MAX_BACKLOG_BYTES`` it is dropped (it will reconnect and resync).

Ordering: a screen is "held" while its snapshot is built; events that arrive
meanwhile are kept and sent after the snapshot, minus those it already covers
(seq not above the snapshot's). A ``queue`` event carries the next tickets in
calling order, computed once by the request that changed the queue, so
screens follow changes from events alone. Snapshots marked
``"refresh": true`` are pushed per establishment: soon after a theme or
calling-settings change (the event does not carry everything), and at most
every ``SAFETY_REFRESH_SECONDS`` after other changes, which bounds how long
a screen can show a list that two simultaneous changes left slightly stale.
Rebuilding a snapshot after every change instead cost 40 % of a web worker's
CPU under load (docs/load-test.md). After the subscriber reconnects (Redis
restarted: events were lost, and the seq counter may have restarted), every
screen gets an unconditional snapshot.
"""
from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
from typing import Callable

from prometheus_client import Gauge, Histogram

log = logging.getLogger(__name__)

PATTERN = "est:*:events"
# Forwarded to screens byte for byte; other event types are reduced to their
# seq, so screens see no gap and learn nothing they do not need.
FORWARDED = {"called", "ticket", "queue", "theme"}
# A theme event carries colours but not the chime URLs, and a settings change
# reorders every queue: a snapshot soon completes them.
REFRESH_SOON = {"theme", "settings"}
REFRESH_DELAY_SECONDS = 0.25
SAFETY_REFRESH_SECONDS = 15.0
MAX_BACKLOG_BYTES = 256 * 1024
MAX_HELD_EVENTS = 500
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)

CONNECTIONS = Gauge("kiosk_display_connections", "Display WebSockets open in this process")
FANOUT = Histogram("kiosk_display_fanout_seconds", "Time to hand one event to every screen of a process",
                   buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0))


def text_frame(payload: bytes) -> bytes:
    """One unmasked, unfragmented WebSocket text frame (RFC 6455 section 5.2)."""
    length = len(payload)
    if length < 126:
        header = bytes((0x81, length))
    elif length < 65536:
        header = bytes((0x81, 126)) + length.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + length.to_bytes(8, "big")
    return header + payload


def _send_nowait(sock, data: bytes) -> int:
    """Write what the kernel takes now; never wait. gevent keeps the OS socket in ``_sock``."""
    raw = getattr(sock, "_sock", sock)
    try:
        return raw.send(data, _DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return 0


class Client:
    """One connected screen, as the hub sees it. Every write goes through here."""

    __slots__ = ("ws", "sock", "establishment_id", "display_id", "alive", "_lock", "_ready", "_held",
                 "_backlog", "_backlog_bytes", "_flushing", "_raw")

    def __init__(self, ws, establishment_id: str, display_id: str):
        self.ws = ws
        self.sock = ws.sock
        self.establishment_id = establishment_id
        self.display_id = display_id
        self.alive = True
        self._lock = threading.Lock()
        self._ready = False
        self._held: list[tuple[int | None, bytes]] = []
        self._backlog: list[bytes] = []
        self._backlog_bytes = 0
        self._flushing = False
        # A TLS socket must encrypt: it always goes through its own sendall.
        self._raw = not hasattr(self.sock, "do_handshake")

    def hold(self) -> None:
        """A snapshot is being built: keep events until it is sent."""
        with self._lock:
            self._ready = False
            self._held = []

    def release(self, snapshot_frame: bytes, seq: int) -> None:
        """Send the snapshot, then the held events it does not already cover."""
        with self._lock:
            self._write(snapshot_frame)
            for held_seq, frame in self._held:
                if held_seq is None or held_seq > seq:
                    self._write(frame)
            self._held = []
            self._ready = True

    def push(self, frame: bytes, seq: int | None) -> None:
        with self._lock:
            if not self.alive:
                return
            if not self._ready:
                self._held.append((seq, frame))
                if len(self._held) > MAX_HELD_EVENTS:
                    self._kill_locked("too many events held")
                return
            self._write(frame)

    def send(self, frame: bytes) -> None:
        with self._lock:
            if self.alive:
                self._write(frame)

    def kill(self, reason: str) -> None:
        with self._lock:
            self._kill_locked(reason)

    def _write(self, frame: bytes) -> None:
        if not self.alive:
            return
        if self._flushing:
            self._backlog.append(frame)
            self._backlog_bytes += len(frame)
            if self._backlog_bytes > MAX_BACKLOG_BYTES:
                self._kill_locked("slow consumer")
            return
        sent = 0
        if self._raw:
            try:
                sent = _send_nowait(self.sock, frame)
            except OSError:
                self._kill_locked("send failed")
                return
        if sent < len(frame):
            self._backlog.append(frame[sent:])
            self._backlog_bytes = len(frame) - sent
            self._flushing = True
            threading.Thread(target=self._flush, name="display-flush", daemon=True).start()

    def _flush(self) -> None:
        while True:
            with self._lock:
                if not self._backlog or not self.alive:
                    self._backlog, self._backlog_bytes, self._flushing = [], 0, False
                    return
                chunk = b"".join(self._backlog)
                self._backlog, self._backlog_bytes = [], 0
            try:
                self.sock.sendall(chunk)
            except OSError:
                self.kill("send failed")

    def _kill_locked(self, reason: str) -> None:
        if not self.alive:
            return
        self.alive = False
        self._backlog, self._backlog_bytes, self._held = [], 0, []  # the memory goes now, not at GC
        log.info("display connection dropped", extra={"display_id": self.display_id, "reason": reason})
        try:
            # Wakes the WebSocket's reader, fails a flusher blocked in sendall
            # and the close frame's send, so the handler ends promptly and the
            # server closes the socket even if the peer never reads again.
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.ws.event.set()


class Hub:
    """The per-process subscriber and the screens it serves, by establishment."""

    def __init__(self) -> None:
        self._rooms: dict[str, set[Client]] = {}
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._app = None
        self._subscribed = threading.Event()
        self._last_seq: dict[str, int] = {}
        self._refreshing: set[tuple[str, bool, float]] = set()
        self._stopping = threading.Event()
        self.snapshot_builder: Callable[[str], tuple[str, int]] | None = None

    # --- screens -------------------------------------------------------------------

    def attach(self, client: Client, app) -> None:
        self._ensure_running(app)
        with self._lock:
            self._rooms.setdefault(client.establishment_id, set()).add(client)
        CONNECTIONS.inc()
        # Events published before the subscription is live would be missed by
        # a screen whose snapshot is about to say "up to date".
        self._subscribed.wait(timeout=1.0)

    def detach(self, client: Client) -> None:
        with self._lock:
            room = self._rooms.get(client.establishment_id)
            if room is not None and client in room:
                room.discard(client)
                CONNECTIONS.dec()
                if not room:
                    del self._rooms[client.establishment_id]

    def clients(self, establishment_id: str) -> list[Client]:
        with self._lock:
            return list(self._rooms.get(establishment_id, ()))

    def count(self) -> int:
        with self._lock:
            return sum(len(room) for room in self._rooms.values())

    # --- subscriber ----------------------------------------------------------------

    def _ensure_running(self, app) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            # After a fork, the parent's screens and thread are not ours.
            self._rooms, self._last_seq, self._refreshing = {}, {}, set()
            self._subscribed.clear()
            self._app = app
            self._pid = os.getpid()
            threading.Thread(target=self._run, name="display-hub", daemon=True).start()

    def _pubsub(self):
        ext = self._app.extensions["redis"]
        if ext.embedded:  # the in-process stand-in: same instance the publishers use
            return ext.client.pubsub(ignore_subscribe_messages=True)
        import redis

        keepalive = {}
        for name, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
            if hasattr(socket, name):
                keepalive[getattr(socket, name)] = value
        # No read timeout: the subscriber waits for events; TCP keepalive and
        # health checks find a dead Redis.
        client = redis.Redis.from_url(self._app.config["REDIS_URL"], socket_connect_timeout=2,
                                      socket_keepalive=True, socket_keepalive_options=keepalive,
                                      health_check_interval=15)
        return client.pubsub(ignore_subscribe_messages=True)

    def stop(self) -> None:
        """End the subscriber (tests; a web process simply exits)."""
        self._stopping.set()

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            pubsub = None
            try:
                pubsub = self._pubsub()
                pubsub.psubscribe(PATTERN)
                self._subscribed.set()
                if failures:
                    log.info("display hub resubscribed", extra={"after_failures": failures})
                    self._resync_everyone()
                failures = 0
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "pmessage":
                        self._dispatch(message["channel"], message["data"])
            except Exception:  # noqa: BLE001 - the subscriber must outlive any outage
                self._subscribed.clear()
                failures += 1
                log.warning("display hub lost Redis; retrying", extra={"failures": failures},
                            exc_info=failures == 1)
                time.sleep(min(5.0, 0.25 * 2 ** min(failures, 5)) * random.uniform(0.5, 1.0))
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:  # noqa: BLE001
                        pass

    def _dispatch(self, channel, data) -> None:
        started = time.perf_counter()
        if isinstance(channel, bytes):
            channel = channel.decode()
        establishment_id = channel.split(":")[1]
        room = self.clients(establishment_id)
        if not room:
            return
        try:
            payload = data if isinstance(data, bytes) else str(data).encode()
            event = json.loads(payload)
            kind, seq = event.get("type"), event.get("seq")
        except (ValueError, AttributeError):
            log.warning("unreadable event ignored", extra={"establishment_id": establishment_id})
            return
        seq = seq if isinstance(seq, int) else None
        if kind == "display_revoked":
            for client in room:
                if client.display_id == event.get("display_id"):
                    client.kill("revoked")
        frame = text_frame(payload if kind in FORWARDED else
                           json.dumps({"type": kind, "seq": seq}, separators=(",", ":")).encode())
        for client in room:
            client.push(frame, seq)
        FANOUT.observe(time.perf_counter() - started)
        last = self._last_seq.get(establishment_id)
        if seq is not None:
            self._last_seq[establishment_id] = seq
        if seq is not None and last is not None and seq < last - 100:
            # The counter went far back: Redis lost it. Resync everyone there.
            self.schedule_snapshot(establishment_id, refresh=False)
        elif kind in REFRESH_SOON:
            self.schedule_snapshot(establishment_id, refresh=True)
        elif kind in FORWARDED:
            self.schedule_snapshot(establishment_id, refresh=True, delay=SAFETY_REFRESH_SECONDS)

    # --- snapshots pushed by the hub ----------------------------------------------

    def _resync_everyone(self) -> None:
        with self._lock:
            establishments = list(self._rooms)
        for establishment_id in establishments:
            self.schedule_snapshot(establishment_id, refresh=False)

    def schedule_snapshot(self, establishment_id: str, *, refresh: bool, delay: float | None = None) -> None:
        """Push one snapshot to every screen of an establishment after ``delay`` (debounced)."""
        delay = REFRESH_DELAY_SECONDS if delay is None else delay
        key = (establishment_id, refresh, delay)
        with self._lock:
            if key in self._refreshing:
                return
            self._refreshing.add(key)
        threading.Thread(target=self._push_snapshot, args=(establishment_id, refresh, delay),
                         name="display-refresh", daemon=True).start()

    def _push_snapshot(self, establishment_id: str, refresh: bool, delay: float) -> None:
        time.sleep(delay)
        with self._lock:
            self._refreshing.discard((establishment_id, refresh, delay))
        if not self.clients(establishment_id) or self.snapshot_builder is None:
            return
        try:
            with self._app.app_context():
                text, seq = self.snapshot_builder(establishment_id)
        except Exception:  # noqa: BLE001 - screens keep their state; the next change retries
            log.warning("display snapshot push failed", extra={"establishment_id": establishment_id},
                        exc_info=True)
            return
        if refresh:
            text = text[:-1] + ',"refresh":true}'
        frame = text_frame(text.encode())
        for client in self.clients(establishment_id):
            client.push(frame, None if not refresh else seq)


hub = Hub()
