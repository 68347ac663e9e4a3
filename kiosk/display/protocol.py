"""The display WebSocket, server side (contract: ARCHITECTURE.md section 5).

- server -> snapshot first, then events with increasing ``seq``;
- server -> ``{"type": "ping", "t"}`` every ``DISPLAY_PING_SECONDS`` (15 s);
  client -> ``{"type": "pong", "t"}``; a client silent for a ping interval
  plus ``DISPLAY_PONG_TIMEOUT_SECONDS`` is dropped;
- client -> ``{"type": "resync"}`` (it saw a gap in ``seq``) -> a fresh
  snapshot, then the events after it.

Pongs (and connecting) refresh ``last_heartbeat``, throttled to one write
a minute per process; a revoked display is dropped at that point at the
latest (normally at once, through the event bus).

A reconnect storm (the display process restarted under 1,000 TVs) is what
this handshake is built for (docs/performance.md, "Display reconnect storm"):
the token comes from the process's cache (``tokens``); screens of one
establishment that connect together share one snapshot build (``_shared_snapshot``)
and one heartbeat UPDATE (``_note_connected``), so no handshake waits for a
pooled connection behind 999 others.

However a connection ends (silent, revoked, closed by the screen), its socket
is shut down before the handler returns: a frozen TV whose TCP stack still
acknowledges would otherwise keep the socket, its buffers and any flusher
blocked in ``sendall`` (and the close frame's own send) for as long as it likes.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid

from flask import Flask

from kiosk.display import services
from kiosk.display.hub import Client, hub, text_frame
from kiosk.extensions import db

log = logging.getLogger(__name__)

MAX_CLIENT_MESSAGE_BYTES = 4096


def snapshot_for_push(establishment_id: str) -> tuple[str, int]:
    """The snapshot builder the hub uses; gives the connection back at once."""
    try:
        return services.snapshot_json(establishment_id)
    finally:
        db.session.remove()


hub.snapshot_builder = snapshot_for_push


class _Build:
    """One snapshot being built; screens that ask meanwhile wait for it."""

    __slots__ = ("seq", "done", "result")

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.done = threading.Event()
        self.result: tuple[str, int] | None = None


_builds: dict[str, _Build] = {}
_builds_lock = threading.Lock()


def _shared_snapshot(establishment_id) -> tuple[str, int]:
    """``services.snapshot_json``, built once for the screens of an establishment that ask together.

    The memo there serves a snapshot once built; this covers the time it is
    being built, when 20 screens of a restarted process would otherwise
    start 20 builds. A screen joins a build only if the establishment's seq
    is the one the build started from (no event numbered since), the same
    rule as the memo; otherwise, or if the build failed, it builds its own.
    """
    key = str(establishment_id)
    seq = services.current_seq(establishment_id)
    with _builds_lock:
        build = _builds.get(key)
        leader = build is None or build.seq != seq
        if leader:
            build = _builds[key] = _Build(seq)
    if not leader:
        build.done.wait(timeout=10.0)
        if build.result is not None and build.result[1] == seq:
            return build.result
        return services.snapshot_json(establishment_id)
    try:
        build.result = services.snapshot_json(establishment_id)
        return build.result
    finally:
        with _builds_lock:
            if _builds.get(key) is build:
                del _builds[key]
        build.done.set()


def _send_snapshot(client: Client, ref: services.DisplayRef) -> None:
    client.hold()
    try:
        text, seq = _shared_snapshot(ref.establishment_id)
    finally:
        # A WebSocket lives for hours: never sit on a pooled connection.
        db.session.remove()
    client.release(text_frame(text.encode()), seq)


# Screens that just connected, by establishment, waiting for the batched heartbeat write.
CONNECT_BATCH_SECONDS = 1.0
_connected: dict[uuid.UUID, dict[uuid.UUID, list[Client]]] = {}
_connected_lock = threading.Lock()
_writer_scheduled = False


def _note_connected(client: Client, ref: services.DisplayRef, app: Flask) -> None:
    """The connect heartbeat, written with those of the other screens connecting meanwhile.

    One UPDATE per establishment every ``CONNECT_BATCH_SECONDS`` instead of
    one transaction per screen; a display found revoked is dropped then.
    """
    global _writer_scheduled
    with _connected_lock:
        _connected.setdefault(ref.establishment_id, {}).setdefault(ref.id, []).append(client)
        if _writer_scheduled:
            return
        _writer_scheduled = True
    threading.Thread(target=_write_connected, args=(app,), name="display-connects", daemon=True).start()


def _write_connected(app: Flask) -> None:
    global _connected, _writer_scheduled
    time.sleep(CONNECT_BATCH_SECONDS)
    with _connected_lock:
        batch, _connected, _writer_scheduled = _connected, {}, False
    with app.app_context():
        for establishment_id, screens in batch.items():
            try:
                active = services.record_heartbeats(establishment_id, list(screens))
            finally:
                db.session.remove()
            for display_id, clients in screens.items():
                if display_id not in active:
                    for client in clients:
                        client.kill("revoked")


def _alive(ref: services.DisplayRef) -> bool:
    try:
        return services.record_heartbeat(ref.id, ref.establishment_id)
    finally:
        db.session.remove()


def serve_display(ws, ref: services.DisplayRef, app: Flask) -> None:
    """Run one screen's connection until it closes, goes silent or is revoked."""
    ws.max_message_size = MAX_CLIENT_MESSAGE_BYTES  # a TV only sends pongs and resyncs
    interval = float(app.config.get("DISPLAY_PING_SECONDS", 15))
    grace = float(app.config.get("DISPLAY_PONG_TIMEOUT_SECONDS", 10))
    client = Client(ws, str(ref.establishment_id), str(ref.id))
    hub.attach(client, app)
    reason = "closed"
    try:
        _send_snapshot(client, ref)
        _note_connected(client, ref, app)
        last_heard = time.monotonic()
        next_ping = last_heard + interval
        while client.alive:
            message = ws.receive(timeout=max(0.0, next_ping - time.monotonic()))
            now = time.monotonic()
            if message is not None:
                last_heard = now
                if not _handle(message, client, ref):
                    reason = "revoked"
                    return
            if now >= next_ping:
                if now - last_heard > interval + grace:
                    reason = "silent"
                    return
                ping = {"type": "ping", "t": int(time.time() * 1000)}
                client.send(text_frame(json.dumps(ping).encode()))
                next_ping = now + interval
    finally:
        hub.detach(client)
        client.kill(reason)


def _handle(message, client: Client, ref: services.DisplayRef) -> bool:
    """Act on one client message; False ends the connection."""
    try:
        kind = json.loads(message).get("type")
    except (ValueError, AttributeError):
        return True  # garbage from a client is ignored, not fatal
    if kind == "pong":
        return _alive(ref)
    if kind == "resync":
        _send_snapshot(client, ref)
    return True
