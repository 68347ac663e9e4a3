"""The fan-out hub's mechanics, on socket pairs: framing, ordering around a
snapshot, slow consumers, and dispatch from the in-process Redis stand-in."""
from __future__ import annotations

import json
import socket
import threading
import time
from types import SimpleNamespace

import fakeredis
import pytest

from kiosk.display import hub as hub_module
from kiosk.display.hub import Client, Hub, text_frame


def read_frames(sock: socket.socket, count: int, timeout: float = 3) -> list[dict]:
    """Parse ``count`` unmasked server text frames from the raw socket."""
    sock.settimeout(timeout)
    buffer, frames = b"", []
    while len(frames) < count:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        buffer += chunk
        while len(buffer) >= 2:
            length, offset = buffer[1] & 0x7F, 2
            if length == 126:
                length, offset = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                length, offset = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < offset + length:
                break
            assert buffer[0] == 0x81 and not buffer[1] & 0x80  # FIN + text, unmasked
            frames.append(json.loads(buffer[offset:offset + length]))
            buffer = buffer[offset + length:]
    return frames


@pytest.fixture
def pair():
    server, client = socket.socketpair()
    yield server, client
    server.close()
    client.close()


def make_client(sock, establishment="e1", display="d1") -> Client:
    return Client(SimpleNamespace(sock=sock, event=threading.Event()), establishment, display)


def frame(payload: dict) -> bytes:
    return text_frame(json.dumps(payload).encode())


@pytest.mark.parametrize("size, header_length", [(10, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)])
def test_text_frames_use_the_right_length_encoding(size, header_length):
    data = text_frame(b"x" * size)
    assert len(data) == size + header_length and data[0] == 0x81


def test_events_that_arrive_while_the_snapshot_is_built_follow_it_minus_those_it_covers(pair):
    server, peer = pair
    client = make_client(server)
    client.hold()
    client.push(frame({"type": "queue", "seq": 5}), 5)
    client.push(frame({"type": "called", "seq": 7}), 7)
    client.release(frame({"type": "snapshot", "seq": 6}), 6)
    client.push(frame({"type": "queue", "seq": 8}), 8)
    assert [(m["type"], m["seq"]) for m in read_frames(peer, 3)] == [("snapshot", 6), ("called", 7), ("queue", 8)]


def test_a_full_socket_queues_the_rest_and_delivers_everything_in_order(pair):
    server, peer = pair
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    client = make_client(server)
    client.release(frame({"type": "snapshot", "seq": 0}), 0)
    padding = "x" * 3000
    for seq in range(1, 60):  # far more than the socket buffer holds
        client.push(frame({"type": "queue", "seq": seq, "pad": padding}), seq)
    received = read_frames(peer, 60)
    assert [m["seq"] for m in received] == list(range(60))
    assert client.alive


def test_a_screen_that_stops_reading_is_dropped_not_waited_for(pair, monkeypatch):
    server, _peer = pair
    monkeypatch.setattr(hub_module, "MAX_BACKLOG_BYTES", 64 * 1024)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    client = make_client(server)
    client.release(frame({"type": "snapshot", "seq": 0}), 0)
    started = time.monotonic()
    for seq in range(1, 200):
        client.push(frame({"type": "queue", "seq": seq, "pad": "x" * 3000}), seq)
    assert time.monotonic() - started < 1  # pushing never blocked on the stuck reader
    assert not client.alive
    assert client.ws.event.is_set()  # the connection handler is woken to end it


def test_the_hub_dispatches_from_the_in_process_redis_to_the_right_establishment(pair, monkeypatch):
    fake = fakeredis.FakeRedis()
    app = SimpleNamespace(extensions={"redis": SimpleNamespace(embedded=True, client=fake)}, config={},
                          app_context=lambda: _NullContext())
    hub = Hub()
    snapshots = []
    hub.snapshot_builder = lambda est: (snapshots.append(est) or json.dumps({"type": "snapshot", "seq": 3}), 3)
    monkeypatch.setattr(hub_module, "REFRESH_DELAY_SECONDS", 0.01)
    monkeypatch.setattr(hub_module, "SAFETY_REFRESH_SECONDS", 0.2)
    server, peer = pair
    other_server, other_peer = socket.socketpair()
    mine, theirs = make_client(server, "e1"), make_client(other_server, "e2")
    for c in (mine, theirs):
        hub.attach(c, app)
        c.release(frame({"type": "snapshot", "seq": 0}), 0)
    fake.publish("est:e1:events", json.dumps({"type": "called", "seq": 1, "ticket": {"code": "A-001"}}))
    fake.publish("est:e1:events", json.dumps({"type": "payment", "seq": 2, "transaction_id": "secret-ish"}))
    fake.publish("est:e1:events", json.dumps({"type": "ticket", "seq": 3, "status": "WAITING"}))
    fake.publish("est:e1:events", json.dumps({"type": "queue", "seq": 4, "waiting": 1, "next": []}))
    started = time.monotonic()
    received = read_frames(peer, 6)
    assert [m["type"] for m in received] == ["snapshot", "called", "payment", "ticket", "queue", "snapshot"]
    assert received[1]["ticket"]["code"] == "A-001"
    assert received[2] == {"type": "payment", "seq": 2}  # screens get the seq, not the payload
    # Events carry what changed; one safety refresh follows a burst of them, not one per event.
    assert received[5]["refresh"] is True and time.monotonic() - started >= 0.15
    assert snapshots == ["e1"]
    fake.publish("est:e1:events", json.dumps({"type": "theme", "seq": 5, "theme": {"primary": "#000000"}}))
    received = read_frames(peer, 2)
    assert [m["type"] for m in received] == ["theme", "snapshot"]  # a theme change is completed soon
    assert snapshots == ["e1", "e1"]
    other_peer.settimeout(0.3)
    assert len(read_frames(other_peer, 2, timeout=0.3)) == 1  # only its own snapshot
    hub.detach(mine)
    hub.detach(theirs)
    assert hub.count() == 0
    hub.stop()
    other_server.close()
    other_peer.close()


class _NullContext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
