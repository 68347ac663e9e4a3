"""What keeps a reconnect storm cheap, and what it must not cost in correctness:
the per-process token cache (a revoked token is refused once the revocation
is known, and dropped within a second even if the message was lost), one
snapshot build shared by the screens of an establishment (each tenant still
gets its own), and the batched connect heartbeat."""
from __future__ import annotations

import threading
import time
import types
import uuid

import pytest
import sqlalchemy as sa
import websocket

from kiosk.display import protocol, services, tokens
from tests.display.conftest import connect, publish, receive

pytestmark = pytest.mark.slow


def _revoke_behind_the_app(owner_engine, display_id: str) -> None:
    with owner_engine.begin() as conn:
        conn.execute(sa.text("UPDATE displays SET revoked_at = now() WHERE id = :d"), {"d": display_id})


def _closed_within(ws, seconds: float) -> bool:
    ws.settimeout(seconds)
    try:
        while True:
            if not ws.recv():
                return True
    except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
        return True
    except websocket.WebSocketTimeoutException:
        return False


def _warm(live_server, token: str) -> None:
    """One connection: the token is now in the cache, with its listener live."""
    ws = connect(live_server, token)
    receive(ws)
    ws.close()
    assert tokens.listener().wait_until_listening(5)
    ws = connect(live_server, token)  # loaded again now that the listener stores it
    receive(ws)
    ws.close()


def test_a_cached_token_skips_the_database_and_a_revocation_behind_the_app_drops_the_screen_within_a_second(
        app, world, live_server, owner_engine):
    _warm(live_server, world.a.display_token)
    _revoke_behind_the_app(owner_engine, world.a.display_id)  # no event: no invalidation
    ws = connect(live_server, world.a.display_token)  # accepted: proof that the token came from the cache
    try:
        assert receive(ws)["type"] == "snapshot"
        # The batched connect heartbeat finds the display revoked and drops it.
        assert _closed_within(ws, protocol.CONNECT_BATCH_SECONDS + 3)
    finally:
        ws.close()
    with app.app_context():
        assert services.resolve_token(world.a.display_token) is None


def test_a_revoked_token_is_refused_once_the_cache_is_invalidated(app, world, live_server, owner_engine):
    _warm(live_server, world.a.display_token)
    _warm(live_server, world.b.display_token)
    _revoke_behind_the_app(owner_engine, world.a.display_id)
    with app.app_context():
        from kiosk.extensions import redis_client

        tokens.listener().invalidate("revoked", redis_client)  # what the DisplayRevoked subscriber sends
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(live_server, world.a.display_token)
    assert refused.value.status_code == 404
    ws = connect(live_server, world.b.display_token)  # the other tenant's screen still connects
    try:
        assert receive(ws)["establishment"]["id"] == world.b.id
    finally:
        ws.close()


def test_revoking_through_the_api_invalidates_the_cache(app, world, live_server, api):
    _warm(live_server, world.a.display_token)
    api.login(world.a.manager_email)
    assert api.post(f"/api/displays/{world.a.display_id}/revoke").status_code == 200
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(live_server, world.a.display_token)
    assert refused.value.status_code == 404


def test_the_ttl_is_the_safety_net(app, world, live_server, owner_engine, monkeypatch):
    _warm(live_server, world.a.display_token)
    _revoke_behind_the_app(owner_engine, world.a.display_id)
    from kiosk import local_cache

    later = types.SimpleNamespace(monotonic=lambda: time.monotonic() + tokens.TTL_SECONDS + 0.1, sleep=time.sleep)
    monkeypatch.setattr(local_cache, "time", later)
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(live_server, world.a.display_token)
    assert refused.value.status_code == 404


def test_the_cache_keys_are_not_the_tokens(app, world, live_server):
    _warm(live_server, world.a.display_token)
    keys = list(tokens.listener()._entries)
    assert keys and world.a.display_token not in keys


def test_screens_connecting_together_share_one_build_and_each_tenant_gets_its_own(app, world, monkeypatch):
    publish(app, world.a.id, {"type": "queue", "queue_id": world.a.queue_id, "waiting": 1})
    publish(app, world.b.id, {"type": "queue", "queue_id": world.b.queue_id, "waiting": 1})
    builds: list[str] = []
    real = services.snapshot_json
    gate = threading.Event()

    def slow_build(establishment_id):
        builds.append(str(establishment_id))
        gate.wait(5)  # every screen asks while the first build is under way
        return real(establishment_id)

    monkeypatch.setattr(services, "snapshot_json", slow_build)
    results: dict[tuple[str, int], tuple[str, int]] = {}

    def screen(establishment_id: str, n: int) -> None:
        with app.app_context():
            results[(establishment_id, n)] = protocol._shared_snapshot(uuid.UUID(establishment_id))

    threads = [threading.Thread(target=screen, args=(est, n)) for est in (world.a.id, world.b.id) for n in range(5)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    gate.set()
    for thread in threads:
        thread.join(10)
    assert sorted(builds) == sorted([world.a.id, world.b.id])  # one build each, not five
    import json

    for (est, _n), (text, seq) in results.items():
        snapshot = json.loads(text)
        assert snapshot["establishment"]["id"] == est and snapshot["seq"] == seq > 0


def test_a_screen_does_not_join_a_build_that_predates_an_event(app, world, monkeypatch):
    publish(app, world.a.id, {"type": "queue", "queue_id": world.a.queue_id, "waiting": 1})
    real = services.snapshot_json
    started, gate = threading.Event(), threading.Event()
    calls = []

    def slow_build(establishment_id):
        calls.append(1)
        if len(calls) == 1:
            started.set()
            gate.wait(5)
        return real(establishment_id)

    monkeypatch.setattr(services, "snapshot_json", slow_build)
    first = {}

    def leader() -> None:
        with app.app_context():
            first["result"] = protocol._shared_snapshot(uuid.UUID(world.a.id))

    thread = threading.Thread(target=leader)
    thread.start()
    assert started.wait(5)
    publish(app, world.a.id, {"type": "queue", "queue_id": world.a.queue_id, "waiting": 2})  # seq moves on
    with app.app_context():
        _text, seq = protocol._shared_snapshot(uuid.UUID(world.a.id))  # builds its own, at once
    gate.set()
    thread.join(10)
    with app.app_context():
        assert len(calls) == 2 and seq == services.current_seq(world.a.id) > 0


def test_batched_heartbeats_write_one_row_each_and_leave_out_a_revoked_display(app, world, owner_engine):
    from kiosk.display.models import Display
    from kiosk.extensions import db
    from kiosk.tenancy import tenant_scope

    with app.app_context(), tenant_scope(world.a.id):
        spare = services.create_display("Spare TV")
        spare_id = spare.id
    _revoke_behind_the_app(owner_engine, world.a.display_id)
    display_id = uuid.UUID(world.a.display_id)
    with app.app_context():
        active = services.record_heartbeats(uuid.UUID(world.a.id), [display_id, spare_id])
        assert active == {spare_id}
        with tenant_scope(world.a.id):
            rows = dict(db.session.execute(sa.select(Display.id, Display.last_heartbeat)).all())
        db.session.remove()
    assert rows[spare_id] is not None and rows[display_id] is None


# --- the tokens of a storm, resolved together ---------------------------------------------

def _revoked_token(app, world, owner_engine) -> str:
    from kiosk.tenancy import tenant_scope

    with app.app_context(), tenant_scope(world.a.id):
        display = services.create_display("Revoked TV")
        token, display_id = display.token, str(display.id)
    _revoke_behind_the_app(owner_engine, display_id)
    return token


def _resolve_together(app, candidates: list[str]) -> tuple[dict[str, object], list[str]]:
    """Resolve every candidate from its own thread at once; the display queries run meanwhile."""
    from kiosk.extensions import db

    tokens.listener().drop()
    statements: list[str] = []
    results: dict[str, object] = {}

    def count(conn, cursor, statement, *args):
        if "FROM displays" in statement:
            statements.append(statement)

    def screen(token: str) -> None:
        with app.app_context():
            try:
                results[token] = tokens.resolve(token)
            except sa.exc.OperationalError as exc:
                results[token] = exc

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        threads = [threading.Thread(target=screen, args=(t,)) for t in candidates]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return results, statements


def test_tokens_missing_together_are_resolved_by_one_query_each_to_its_own_tenant(
        app, world, owner_engine, monkeypatch):
    monkeypatch.setattr(tokens, "BATCH_SECONDS", 0.5)  # every thread joins the first one's batch
    revoked = _revoked_token(app, world, owner_engine)
    unknown = "Zq9" + "x" * 29
    results, statements = _resolve_together(
        app, [world.a.display_token, world.b.display_token, revoked, unknown])
    assert len(statements) == 1
    assert str(results[world.a.display_token].id) == world.a.display_id
    assert str(results[world.a.display_token].establishment_id) == world.a.id
    assert str(results[world.b.display_token].id) == world.b.display_id
    assert str(results[world.b.display_token].establishment_id) == world.b.id
    assert results[revoked] is None and results[unknown] is None


def test_a_revoked_token_is_refused_when_it_misses_the_cache_in_a_storm(
        app, world, live_server, owner_engine, monkeypatch):
    monkeypatch.setattr(tokens, "BATCH_SECONDS", 0.3)
    revoked = _revoked_token(app, world, owner_engine)
    tokens.listener().drop()
    outcome: dict[str, object] = {}

    def screen(token: str) -> None:
        try:
            ws = connect(live_server, token)
        except websocket.WebSocketBadStatusException as refused:
            outcome[token] = refused.status_code
            return
        try:
            outcome[token] = receive(ws)["establishment"]["id"]
        finally:
            ws.close()

    threads = [threading.Thread(target=screen, args=(t,)) for t in (world.a.display_token, revoked)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert outcome == {world.a.display_token: world.a.id, revoked: 404}


def test_when_the_shared_query_fails_each_waiting_screen_asks_alone(app, world, monkeypatch):
    monkeypatch.setattr(tokens, "BATCH_SECONDS", 0.5)
    real = services.resolve_tokens
    calls: list[int] = []

    def failing_once(candidates):
        calls.append(len(set(candidates)))
        if len(calls) == 1:
            raise sa.exc.OperationalError("SELECT", {}, Exception("connection lost"))
        return real(candidates)

    monkeypatch.setattr(services, "resolve_tokens", failing_once)
    results, _ = _resolve_together(app, [world.a.display_token, world.b.display_token])
    assert calls[0] == 2 and len(calls) == 2  # the shared query, then the screen that only waited
    failed = [t for t, r in results.items() if isinstance(r, sa.exc.OperationalError)]
    assert len(failed) == 1  # the screen whose query failed is told so
    (other,) = set(results) - set(failed)
    expected = world.a.id if other == world.a.display_token else world.b.id
    assert str(results[other].establishment_id) == expected
