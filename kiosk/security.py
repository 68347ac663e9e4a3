"""Security headers (Talisman) and rate limits (flask-limiter's storage).

Limits per the contract:
- 100/min per verified identity (device or staff user), checked by the auth
  guards once the identity is known;
- 30/min per IP for requests that *fail* authentication. Unguessable
  credentials (device signatures, JWTs, display and tracking tokens) are
  verified first and only failures count (``auth_failure``): past the limit
  the failing requests get 429 while a correctly signed request or a valid
  token still passes, so a kiosk fleet behind one NAT is never locked out by
  a neighbour. That is safe only because those secrets cannot be guessed:
  letting a guess through would be an oracle. Guessable secrets (passwords,
  claim codes typed by an installer) are checked *before* verification
  (``check_auth_failures``), so brute force from an IP stops at the limit;
- login: also 5 failures per 15 min per IP + email, then that pair is locked
  out for 15 minutes from the 5th failure (correct password or not);
- a loose per-IP ceiling on everything else (default 3000/min), display
  WebSocket handshakes included; exempt: health checks, static files, the
  metrics scrape, and the views behind a guard that limits per identity and
  per failure (``identity_guarded``: signed kiosk routes, staff API and pages).
"""
from __future__ import annotations

import logging
import time

from flask import Flask, current_app, request
from flask_babel import lazy_gettext as _l
from flask_talisman import Talisman
from limits import parse
from werkzeug.datastructures import Headers
from werkzeug.middleware.proxy_fix import ProxyFix

from kiosk.errors import ApiError
from kiosk.extensions import limiter

IDENTITY_LIMIT = "100/minute"
AUTH_FAILURE_LIMIT = "30/minute"
LOGIN_FAILURE_LIMIT = "5/15minutes"
# After the 5th failure the IP + email pair is locked for 15 minutes from that failure.
LOGIN_LOCKOUT = "1/15minutes"

CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": ["'self'", "data:", "https:"],
    "media-src": "'self'",
    "connect-src": ["'self'", "ws:", "wss:"],
    "font-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "worker-src": "'self'",
    "manifest-src": "'self'",
}


class _OncePerKindTalisman(Talisman):
    """Talisman whose headers are computed once per kind of response, then copied.

    Talisman rebuilds every header (the CSP string above all) on each
    response, ~100 µs. What it sends depends only on the view's
    ``@talisman(...)`` options and on whether the request came over HTTPS
    (HSTS), so the list is computed by Talisman itself, once per (endpoint,
    HTTPS) in this process, and copied onto each response after that. A
    nonce-based CSP differs per request and is never cached.
    tests/security/test_headers_cached.py proves the headers are Talisman's own.
    """

    def __init__(self, *args, **kwargs) -> None:
        self._options: dict = {}
        self._headers: dict = {}
        super().__init__(*args, **kwargs)

    def _get_local_options(self):
        # Per endpoint: a view's options never change once it is registered.
        endpoint = request.endpoint
        options = self._options.get(endpoint)
        if options is None:
            options = self._options[endpoint] = super()._get_local_options()
        return options

    def _set_response_headers(self, response):
        options = self._get_local_options()
        if options["content_security_policy_nonce_in"]:
            return super()._set_response_headers(response)
        key = (request.endpoint, request.is_secure or request.headers.get("X-Forwarded-Proto", "http") == "https")
        headers = self._headers.get(key)
        if headers is None:
            computed = Headers()
            super()._set_response_headers(_HeadersOnly(computed))
            headers = self._headers[key] = list(computed.items())
        target = response.headers
        for name, value in headers:
            target[name] = value
        return response


class _HeadersOnly:
    """What Talisman's header setters touch of a response."""

    __slots__ = ("headers",)

    def __init__(self, headers: Headers) -> None:
        self.headers = headers


def init_security(app: Flask) -> None:
    proxies = int(app.config.get("TRUSTED_PROXY_COUNT") or 0)
    if proxies:
        # Behind a reverse proxy: the client's IP (per-IP limits, logs) and the
        # scheme (HSTS, secure redirects) come from the proxy's headers.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    secure_cookies = app.config["KIOSK_ENV"] == "production"
    # One Talisman per app: it keeps its settings on itself, and tests build
    # apps with different settings in one process. The shared instance in
    # extensions stays for the per-view ``@talisman(...)`` decorator.
    app.extensions["talisman"] = _OncePerKindTalisman(
        app,
        content_security_policy=CSP,
        force_https=bool(app.config.get("FORCE_HTTPS")),
        # Talisman sends HSTS only on requests that arrived over HTTPS.
        strict_transport_security=True,
        strict_transport_security_max_age=31536000,
        frame_options="DENY",
        referrer_policy="strict-origin-when-cross-origin",
        session_cookie_secure=secure_cookies,
        session_cookie_http_only=True,
        session_cookie_samesite="Lax",
        x_content_type_options=True,
    )
    app.before_request(guard_request_body)
    app.config.setdefault("RATELIMIT_DEFAULT", app.config.get("IP_LIMIT", "3000/minute"))
    # Registered before the limiter's own hook, so it runs after it.
    app.after_request(_retry_after_only_when_meaningful)
    limiter.init_app(app)

    @limiter.request_filter
    def _exempt() -> bool:
        return is_exempt_path(request.path) or is_identity_guarded()


# Views whose guard verifies a credential, then counts the request against the
# verified identity's limit (100/min) or, on failure, against the IP's
# failure limit: the per-IP default would only add a Redis round trip per
# request (measured: docs/performance.md) and throttle a NAT'd fleet.
IDENTITY_GUARDED = "_kiosk_identity_guarded"


def identity_guarded(view):
    """Mark a guard's wrapper: every request through it is limited per identity or per failure.

    ``functools.wraps`` copies the mark to the decorators stacked above.
    """
    setattr(view, IDENTITY_GUARDED, True)
    return view


def is_identity_guarded() -> bool:
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return bool(getattr(view, IDENTITY_GUARDED, False))


# Display WebSocket handshakes are identity-guarded instead (a valid token is
# served from a cache; a failed one counts against the IP's failure limit).
EXEMPT_PREFIXES = ("/health", "/static/", "/frontend/")


def is_exempt_path(path: str) -> bool:
    """Health checks, static files and scrapes are never rate limited."""
    return path.startswith(EXEMPT_PREFIXES) or path == "/metrics"


# --- request bodies --------------------------------------------------------------

JSON_PREFIXES = ("/api/", "/iot/", "/auth/", "/stats/")
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
MAX_JSON_DEPTH = 32


def json_shape(value) -> tuple[int, bool]:
    """Nesting depth of parsed JSON, and whether any key or string holds a NUL, without recursion."""
    deepest, has_nul, stack = 0, False, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            has_nul = has_nul or any("\x00" in key for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str) and "\x00" in item:
            has_nul = True
    return deepest, has_nul


def json_depth(value) -> int:
    return json_shape(value)[0]


def _refuse_nul_bytes() -> None:
    """A NUL byte can never be valid here, and Postgres refuses it in text (a 500 otherwise).

    :raise ApiError 404: in the path (no such resource).
    :raise ApiError 400 validation_error: in the query string.
    """
    if "\x00" in request.path:
        raise ApiError(404, "not_found", _l("Not found."))
    if any("\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)):
        raise ApiError(400, "validation_error", _l("Some fields are invalid."),
                       {"_query": ["NUL characters are not allowed."]})


def guard_request_body() -> None:
    """Every JSON route: a body must be declared JSON, be shallow and hold no NUL.

    Runs before any view (so before the routes other packages add) and keeps
    the contract's error shape. The size cap is MAX_CONTENT_LENGTH (413).

    :raise ApiError 415: a body that is not declared as JSON.
    :raise ApiError 400 invalid_json: JSON nested deeper than MAX_JSON_DEPTH.
    """
    _refuse_nul_bytes()
    if request.method not in BODY_METHODS or not request.path.startswith(JSON_PREFIXES):
        return
    if not request.content_length and not request.headers.get("Transfer-Encoding"):
        return
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", _l("The request body must be JSON."))
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        data, (depth, has_nul) = None, (MAX_JSON_DEPTH + 1, False)
    else:
        depth, has_nul = json_shape(data) if data is not None else (0, False)
    if depth > MAX_JSON_DEPTH:
        raise ApiError(400, "invalid_json", _l("The request body is nested too deeply."),
                       {"max_depth": MAX_JSON_DEPTH})
    if has_nul:
        raise ApiError(400, "validation_error", _l("Some fields are invalid."),
                       {"_schema": ["NUL characters are not allowed."]})


log = logging.getLogger(__name__)

RETRY_AFTER_STATUSES = (429, 503)


def _retry_after_only_when_meaningful(response):
    """Retry-After means "come back later": only on 429 and 503 (contract)."""
    if response.status_code not in RETRY_AFTER_STATUSES:
        response.headers.pop("Retry-After", None)
    return response


def _retry_after(limit_string: str, key: str) -> str:
    item = parse(limit_string)
    try:
        reset_at, _remaining = limiter.limiter.get_window_stats(item, key)
        return str(max(1, int(reset_at - time.time()) + 1))
    except Exception:  # noqa: BLE001 - the header must be there regardless
        return str(item.get_expiry())


def _enabled() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED", True))


def _too_many(limit_string: str, key: str) -> ApiError:
    return ApiError(429, "rate_limited", _l("Too many requests; slow down."),
                    headers={"Retry-After": _retry_after(limit_string, key)})


def hit_identity_limit(identity: str) -> None:
    """Count one request for a verified device or user; 429 past the limit."""
    if not _enabled():
        return
    key = f"identity:{identity}"
    if not _safe_hit(IDENTITY_LIMIT, key):
        raise _too_many(IDENTITY_LIMIT, key)


# A signed kiosk request's Redis work, in one round trip (it was four: the
# per-IP default, the nonce, the identity limit, the last_seen gate):
# 1. the nonce, SET NX EX: already there -> a replay, nothing else is counted;
# 2. the identity limit, the moving window of flask-limiter's own script
#    (limits' acquire_moving_window.lua) on the same key, so Retry-After and
#    every other reader of that window agree;
# 3. only if the request is let through: the last_seen gate, SET NX EX.
# Returns {nonce_fresh, allowed, last_seen_due} as 0/1.
_SIGNED_GATE_LUA = """
if not redis.call('set', KEYS[1], 1, 'NX', 'EX', tonumber(ARGV[1])) then
  return {0, 0, 0}
end
if ARGV[2] == '1' then
  local now, limit, expiry = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
  local entry = redis.call('lindex', KEYS[2], limit - 1)
  if entry and tonumber(entry) >= now - expiry then
    return {1, 0, 0}
  end
  redis.call('lpush', KEYS[2], ARGV[3])
  redis.call('ltrim', KEYS[2], 0, limit - 1)
  redis.call('expire', KEYS[2], expiry)
end
if redis.call('set', KEYS[3], 1, 'NX', 'EX', tonumber(ARGV[6])) then
  return {1, 1, 1}
end
return {1, 1, 0}
"""
_scripts: dict[int, object] = {}


def _limit_storage_key(limit_string: str, key: str) -> str | None:
    """The Redis key flask-limiter keeps this limit's window under, if it is in the app's Redis."""
    storage = getattr(limiter.limiter, "storage", None)
    config = current_app.config
    if (not hasattr(storage, "prefixed_key") or config.get("RATELIMIT_STRATEGY") != "moving-window"
            or config.get("RATELIMIT_STORAGE_URI") != config.get("REDIS_URL")):
        return None
    return storage.prefixed_key(parse(limit_string).key_for(key))


def signed_request_gate(identity: str, nonce_key: str, nonce_ttl: int, gate_key: str, gate_ttl: int,
                        redis) -> tuple[bool, bool]:
    """Nonce, identity limit and last_seen gate of a verified device, in one Redis round trip.

    Returns (nonce_fresh, last_seen_due). A stale nonce counts nothing else.
    Without the app's Redis as the limiter's store (embedded mode, tests with
    ``memory://``), the same three steps run one by one.

    :raise ApiError 429: past the identity limit (the nonce is spent, as before).
    :raise redis errors: from the nonce step, as before (a nonce is never skipped).
    """
    limit_key = f"identity:{identity}"
    enabled = _enabled()
    storage_key = None
    if not getattr(redis, "embedded", False):
        # Limits off: the script skips step 2 and never reads this key.
        storage_key = _limit_storage_key(IDENTITY_LIMIT, limit_key) if enabled else nonce_key
    if storage_key is None:
        if not redis.set(nonce_key, 1, nx=True, ex=nonce_ttl):
            return False, False
        hit_identity_limit(identity)
        try:
            return True, bool(redis.set(gate_key, 1, nx=True, ex=gate_ttl))
        except Exception:  # noqa: BLE001 - bookkeeping must not fail a payment
            return True, False
    client = redis.client
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(_SIGNED_GATE_LUA)
    item = parse(IDENTITY_LIMIT)
    fresh, allowed, due = script(keys=[nonce_key, storage_key, gate_key],
                                 args=[nonce_ttl, "1" if enabled else "0", time.time(), item.amount,
                                       item.get_expiry(), gate_ttl])
    if not fresh:
        return False, False
    if not allowed:
        raise _too_many(IDENTITY_LIMIT, limit_key)
    return True, bool(due)


def client_ip() -> str:
    return request.remote_addr or "unknown"


def check_auth_failures(ip: str | None = None) -> None:
    """Refuse at once an IP that already failed authentication too often."""
    if not _enabled():
        return
    key = f"authfail:{ip or client_ip()}"
    if not _safe_test(AUTH_FAILURE_LIMIT, key):
        raise _too_many(AUTH_FAILURE_LIMIT, key)


def record_auth_failure(ip: str | None = None) -> bool:
    """Count one failed authentication for the IP; False once it is past the limit."""
    if not _enabled():
        return True
    return _safe_hit(AUTH_FAILURE_LIMIT, f"authfail:{ip or client_ip()}")


def auth_failure(error: ApiError, ip: str | None = None) -> ApiError:
    """Count a request that failed authentication; the error to raise for it.

    Within the limit that is ``error`` itself (401, 404...); past it, 429.
    Called only *after* verification failed, so valid credentials from the
    same IP are never refused (see the module docstring).
    """
    if record_auth_failure(ip):
        return error
    return _too_many(AUTH_FAILURE_LIMIT, f"authfail:{ip or client_ip()}")


def login_key(email: str) -> str:
    return f"login:{client_ip()}:{email.strip().lower()}"


def check_login_lockout(email: str) -> None:
    """Refuse a locked IP + email pair before even looking at the password.

    :raise ApiError 429: locked out; Retry-After says until when.
    """
    if not _enabled():
        return
    key = login_key(email)
    if not _safe_test(LOGIN_LOCKOUT, "lockout:" + key):
        raise _too_many(LOGIN_LOCKOUT, "lockout:" + key)
    if not _safe_test(LOGIN_FAILURE_LIMIT, key):
        raise _too_many(LOGIN_FAILURE_LIMIT, key)


def record_login_failure(email: str) -> None:
    """Count a failed login; the failure that fills the window starts a lockout."""
    if not _enabled():
        return
    key = login_key(email)
    _safe_hit(LOGIN_FAILURE_LIMIT, key)
    if not _safe_test(LOGIN_FAILURE_LIMIT, key):
        _safe_hit(LOGIN_LOCKOUT, "lockout:" + key)


def _safe_hit(limit_string: str, key: str) -> bool:
    # A rate-limit store outage must not take the product down with it.
    try:
        return limiter.limiter.hit(parse(limit_string), key)
    except Exception as exc:  # noqa: BLE001
        log.warning("rate-limit store unavailable; limit not applied", extra={"error": type(exc).__name__})
        return True


def _safe_test(limit_string: str, key: str) -> bool:
    try:
        return limiter.limiter.test(parse(limit_string), key)
    except Exception as exc:  # noqa: BLE001
        log.warning("rate-limit store unavailable; limit not applied", extra={"error": type(exc).__name__})
        return True
