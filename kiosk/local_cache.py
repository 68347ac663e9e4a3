"""An in-process cache that every process drops together, through Redis pub/sub.

For rows read on nearly every request and changed rarely (a kiosk's device
row, a user's revocation version): a dict per process, so a hit costs no
round trip, with two ways out for a stale entry:

- **invalidation**: a writer calls ``invalidate(key)`` after its commit; it
  drops the key here at once and publishes it on the cache's channel. A
  listener thread in every process drops it there within milliseconds
  (``tests/devices/test_device_cache.py`` measures it with two real
  processes: well under a second);
- **a short TTL** as the safety net for a publish that never arrived.

And one guarantee for the gap in between: a process serves from its dict only
while its listener is subscribed *and heard from Redis lately*. The listener
pings Redis every ``HEARTBEAT_SECONDS`` on its subscription; before the
subscription is confirmed, after Redis drops it, in a process whose listener
died, or when Redis has answered nothing for ``SILENCE_SECONDS`` (a hung
server or a cut link that closed no socket, which TCP keepalive would notice
only after a minute), every read goes to the source. The dict is emptied on
each (re)subscription, since messages sent while it was down are lost. So an
outage costs speed, never a stale answer past a few seconds.

Under gunicorn's gevent workers the listener is a greenlet (threading is
patched); after a fork it is started again in the child, lazily.
"""
from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from typing import Any, Callable, Hashable

log = logging.getLogger(__name__)

_MISSING = object()

HEARTBEAT_SECONDS = 1.0
# Two heartbeats missed, with room for a busy event loop: then the dict is not trusted.
SILENCE_SECONDS = 3.0


class LocalCache:
    def __init__(self, channel: str, ttl_seconds: float, max_entries: int = 100_000) -> None:
        self.channel = channel
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._subscribed = threading.Event()
        self._stopping = threading.Event()
        self._redis_url: str | None = None
        self._embedded_client = None
        # monotonic time of the last thing the listener heard from Redis (a pong at least).
        self._heard_at = 0.0
        # Bumped by every drop: a value read from the source before a drop is
        # not stored after it (the read may predate the writer's commit).
        self._generation = 0

    # --- reading ------------------------------------------------------------------------

    def get_or_load(self, key: Hashable, load: Callable[[], Any], app) -> Any:
        """The cached value of ``key``, else ``load()`` (stored if the listener is live).

        ``load`` may return None (nothing to cache: an unknown key is looked
        up again next time, so a new row is seen at once).
        """
        self._ensure_listening(app)
        now = time.monotonic()
        if self._live(now):
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                return entry[1]
        generation = self._generation
        value = load()
        if value is not None and self._live(now):
            with self._lock:
                if generation == self._generation:
                    if len(self._entries) >= self.max_entries:
                        self._entries.clear()
                    self._entries[key] = (now + self.ttl, value)
        return value

    def _live(self, now: float) -> bool:
        """Whether an invalidation sent now would reach this process's listener."""
        return self._subscribed.is_set() and (self._embedded_client is not None
                                              or now - self._heard_at < SILENCE_SECONDS)

    # --- invalidating ---------------------------------------------------------------------

    def drop(self, key: Hashable | None = None) -> None:
        """Forget ``key`` (every key if None) in this process only."""
        with self._lock:
            self._generation += 1
            if key is None:
                self._entries.clear()
            else:
                self._entries.pop(key, None)

    def invalidate(self, key: str, redis_client) -> None:
        """Drop ``key`` here and in every other process. Call it after the change commits.

        A failed publish is logged: the other processes then hold the old
        value until the TTL (seconds), which the writer accepts rather than
        failing a change that is already committed.
        """
        self.drop(key)
        try:
            redis_client.publish(self.channel, key)
        except Exception as exc:  # noqa: BLE001
            log.warning("cache invalidation not published; other processes expire it by TTL",
                        extra={"channel": self.channel, "error": type(exc).__name__})

    # --- the listener ------------------------------------------------------------------

    def _ensure_listening(self, app) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            # After a fork the parent's entries and listener are not ours.
            self._entries.clear()
            self._subscribed.clear()
            ext = app.extensions["redis"]
            self._embedded_client = ext.client if ext.embedded else None
            self._redis_url = app.config.get("REDIS_URL")
            self._pid = os.getpid()
            threading.Thread(target=self._run, name=f"local-cache:{self.channel}", daemon=True).start()

    def wait_until_listening(self, timeout: float = 5.0) -> bool:
        return self._subscribed.wait(timeout)

    def stop(self) -> None:
        """End the listener (tests; a process simply exits)."""
        self._stopping.set()

    def _pubsub(self):
        if self._embedded_client is not None:  # the in-process stand-in the writers publish on
            return self._embedded_client.pubsub(ignore_subscribe_messages=False)
        import redis

        keepalive = {}
        for name, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
            if hasattr(socket, name):
                keepalive[getattr(socket, name)] = value
        client = redis.Redis.from_url(self._redis_url, socket_connect_timeout=2, socket_keepalive=True,
                                      socket_keepalive_options=keepalive, health_check_interval=15)
        return client.pubsub(ignore_subscribe_messages=False)

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            pubsub = None
            try:
                pubsub = self._pubsub()
                pubsub.subscribe(self.channel)
                pinged_at = time.monotonic()
                while not self._stopping.is_set():
                    if self._embedded_client is None and time.monotonic() - pinged_at >= HEARTBEAT_SECONDS:
                        pubsub.ping()
                        pinged_at = time.monotonic()
                    message = pubsub.get_message(timeout=HEARTBEAT_SECONDS / 2)
                    if not message:
                        continue
                    heard_at = time.monotonic()
                    if heard_at - self._heard_at >= SILENCE_SECONDS:
                        # Back from a silence: whatever was missed meanwhile, start empty.
                        self.drop()
                    self._heard_at = heard_at
                    if message.get("type") == "subscribe":
                        # Whatever was published while we were away is lost: start empty.
                        self.drop()
                        self._subscribed.set()
                        if failures:
                            log.info("cache listener resubscribed", extra={"channel": self.channel})
                        failures = 0
                    elif message.get("type") == "message":
                        data = message.get("data")
                        self.drop(data.decode() if isinstance(data, bytes) else data)
            except Exception:  # noqa: BLE001 - the listener must outlive any outage
                failures += 1
                log.warning("cache listener lost Redis; reading from the source meanwhile",
                            extra={"channel": self.channel, "failures": failures}, exc_info=failures == 1)
            finally:
                # Not listening: stop serving from the dict before anything else.
                self._subscribed.clear()
                self.drop()
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:  # noqa: BLE001
                        pass
            if not self._stopping.is_set():
                time.sleep(min(5.0, 0.25 * 2 ** min(failures, 5)) * random.uniform(0.5, 1.0))
