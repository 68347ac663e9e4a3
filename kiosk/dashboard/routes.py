"""Server-rendered pages for managers and staff.

  GET  /login, POST /login      sign in: the JWT goes into an HttpOnly cookie (+ CSRF cookie)
  POST /logout                  sign out (CSRF checked): revokes the user's tokens, clears the cookies
  GET  /lang/<fr|en>?next=      remember a language choice in a cookie
  GET  /dashboard               manager overview: total, daily/monthly revenue, VIP count
  GET  /dashboard/export.csv    the range as CSV (?from=YYYY-MM-DD&to=YYYY-MM-DD)
  GET  /dashboard/devices       kiosks: list, disable/enable, rotate secret, claim codes
  GET  /dashboard/refunds       manager: paid tickets that ended unserved, due and refunded
  GET  /dashboard/devices       kiosks: list, disable/enable, rotate secret, claim codes; cash boxes
                                (expected amount, collect, history, threshold), revenue per kiosk
  GET  /dashboard/devices/collections.csv   cash collections as CSV (?from&to[&device=])
  GET  /dashboard/queues        queues with their waiting count, links to the counter screen
  GET  /dashboard/counter       the counter screen: call, recall, serve (staff)
  GET  /dashboard/theme         the establishment's theme and calling rule (manager)
  GET  /dashboard/staff         staff accounts: add, deactivate, change role, set a new password (manager)
  GET  /dashboard/audit         activity log: who did what and when (manager; ?from&to local days)

Pages read data from the JSON API (``/stats/...``, ``/api/...``) with the same
cookie; writes send the CSRF cookie's value back in ``X-CSRF-TOKEN``.
"""
from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, session
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_jwt_extended import decode_token, set_access_cookies, unset_jwt_cookies, verify_jwt_in_request
from marshmallow import ValidationError
from sqlalchemy.exc import NoResultFound

from kiosk.audit import services as audit_services
from kiosk.auth import services as auth_services
from kiosk.auth.pages import dashboard_page, error_page
from kiosk.dashboard import services
from kiosk.dashboard.pages import layout_context, render_page
from kiosk.dashboard.schemas import (CollectionExportQuerySchema, DateRangeSchema, LoginFormSchema, LogoutFormSchema,
                                     OverviewQuerySchema)
from kiosk.errors import ApiError
from kiosk.establishments import theme as theme_rules
from kiosk.establishments.services import current_establishment
from kiosk.payments import refunds as refund_services
from kiosk.queues import services as queue_services
from kiosk.queues.presentation import describe_queue
from kiosk.security import check_auth_failures, check_login_lockout, record_auth_failure, record_login_failure
from kiosk.tenancy import tenant_scope
from kiosk.web import asset_url

bp = Blueprint("dashboard", __name__)

LOGIN_CSRF_KEY = "login_csrf"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


# --- sign in and out -------------------------------------------------------------------------

def _login_csrf_token() -> str:
    # Synchronizer token in the signed session cookie: a login form posted from
    # another site (login CSRF) has no way to carry it.
    if LOGIN_CSRF_KEY not in session:
        session[LOGIN_CSRF_KEY] = secrets.token_urlsafe(32)
    return session[LOGIN_CSRF_KEY]


def _login_form(status: int = 200, error=None, email: str = "", next_path: str | None = None,
                headers: dict | None = None):
    body = render_template("dashboard/login.html", locale=str(get_locale()), error=error, email=email,
                           next_path=next_path or "", csrf_token=_login_csrf_token(),
                           here=request.full_path if request.query_string else request.path)
    response = current_app.make_response((body, status, headers or {}))
    response.headers["Cache-Control"] = "no-store"
    return response


def _already_signed_in() -> dict | None:
    try:
        verify_jwt_in_request(optional=True, locations=["cookies"])
    except Exception:  # noqa: BLE001 - expired or forged: show the form
        return None
    from flask_jwt_extended import get_jwt

    return get_jwt() or None


def _secure_cookies_if_https(response: Response) -> Response:
    """Mark the auth cookies Secure whenever the page came over HTTPS (always in production)."""
    if not request.is_secure:
        return response
    cookies = response.headers.getlist("Set-Cookie")
    response.headers.remove("Set-Cookie")
    for cookie in cookies:
        response.headers.add("Set-Cookie", cookie if "; Secure" in cookie else cookie + "; Secure")
    return response


@bp.get("/login")
def login_page():
    next_path = services.safe_next(request.args.get("next"))
    claims = _already_signed_in()
    if claims and claims.get("role"):
        return redirect(next_path or services.landing_for(claims["role"]))
    return _login_form(next_path=next_path)


@bp.post("/login")
def login_submit():
    raw_next = request.form.get("next")
    next_path = services.safe_next(raw_next)
    try:
        check_auth_failures()
    except ApiError as exc:
        return _login_form(429, _l("Too many attempts. Wait a few minutes and try again."),
                           next_path=next_path, headers=exc.headers)
    expected = session.get(LOGIN_CSRF_KEY, "")
    if not expected or not hmac.compare_digest(str(request.form.get("csrf_token", "")), expected):
        return _login_form(400, _l("The form has expired; try again."), next_path=next_path)
    try:
        data = LoginFormSchema().load(request.form.to_dict())
    except ValidationError:
        return _login_form(400, _l("Enter your email and password."), email=request.form.get("email", "")[:254],
                           next_path=next_path)
    try:
        check_login_lockout(data["email"])
    except ApiError as exc:
        return _login_form(429, _l("Too many attempts. Wait a few minutes and try again."), email=data["email"],
                           next_path=next_path, headers=exc.headers)
    try:
        body = auth_services.authenticate(data["email"], data["password"])
    except ApiError:
        record_login_failure(data["email"])
        record_auth_failure()
        # The same answer for an unknown email and a wrong password.
        return _login_form(401, _l("Wrong email or password."), email=data["email"], next_path=next_path)
    claims = decode_token(body["access_token"])
    session.pop(LOGIN_CSRF_KEY, None)  # one form, one sign-in
    response = redirect(next_path or services.landing_for(claims["role"]))
    set_access_cookies(response, body["access_token"], max_age=body["expires_in"])
    return _secure_cookies_if_https(response)


@bp.post("/logout")
def logout():
    """Clear the cookies; the form must carry the CSRF value bound to the session's JWT."""
    cookie = request.cookies.get(current_app.config.get("JWT_ACCESS_COOKIE_NAME", "access_token_cookie"))
    try:
        form = LogoutFormSchema().load(request.form.to_dict())
    except ValidationError:
        return error_page(400, _l("The form has expired; reload the page."))
    claims = None
    if cookie:
        try:
            claims = decode_token(cookie, allow_expired=True)
        except Exception:  # noqa: BLE001 - a forged or garbled cookie: clearing it is harmless
            claims = None
    if claims is not None:
        expected = str(claims.get("csrf", ""))
        if not expected or not hmac.compare_digest(form["csrf_token"], expected):
            return error_page(400, _l("The form has expired; reload the page."))
        # Signed by us (decode_token checked it): end every session of this user, not
        # just this browser's cookie, exactly like POST /auth/logout.
        try:
            with tenant_scope(claims["establishment_id"]):
                auth_services.logout(claims["sub"])
        except (KeyError, ValueError, NoResultFound):
            pass  # a token for a user that no longer exists: nothing left to revoke
    response = redirect("/login")
    unset_jwt_cookies(response)
    session.pop(LOGIN_CSRF_KEY, None)
    return response


@bp.get("/lang/<code>")
def choose_language(code: str):
    """Remember a language choice (a preference cookie; it changes no account data)."""
    if code not in ("fr", "en"):
        return error_page(404, _l("Not found."))
    response = redirect(services.safe_next(request.args.get("next")) or "/dashboard")
    response.set_cookie("lang", code, max_age=LANG_COOKIE_MAX_AGE, httponly=True, samesite="Lax",
                        secure=request.is_secure or current_app.config["KIOSK_ENV"] == "production")
    return response


# --- overview --------------------------------------------------------------------------------

def _establishment():
    return current_establishment()


@bp.get("/dashboard")
@dashboard_page()
def overview():
    if g.page_claims["role"] != "manager":
        return redirect(services.landing_for(g.page_claims["role"]))
    try:
        query = OverviewQuerySchema().load(request.args.to_dict())
    except ValidationError:
        query = {"preset": None, "date_from": None, "date_to": None}
    establishment = _establishment()
    today = services.local_today(establishment.timezone)
    preset = query["preset"] or "month"
    date_from, date_to = services.preset_range(preset, today)
    if query["date_from"] and query["date_to"]:
        try:
            DateRangeSchema().load({"from": query["date_from"].isoformat(), "to": query["date_to"].isoformat()})
            date_from, date_to, preset = query["date_from"], query["date_to"], "custom"
        except ValidationError:
            pass
    locale = str(get_locale())
    return render_page("dashboard/overview.html", today=today, date_from=date_from, date_to=date_to, preset=preset,
                       money=services.money_format_spec(establishment.currency, locale),
                       max_days=services.MAX_RANGE_DAYS)


@bp.get("/dashboard/export.csv")
@dashboard_page("manager")
def export_csv():
    try:
        query = DateRangeSchema().load({k: v for k, v in request.args.items() if k != "lang"})
        establishment = _establishment()
        _, rows = services.export_rows(query["date_from"], query["date_to"], str(get_locale()))
    except (ValidationError, ApiError) as exc:
        if isinstance(exc, ApiError) and exc.status != 400:
            raise
        return error_page(400, _l("Choose a valid date range (at most %(days)s days).", days=services.MAX_RANGE_DAYS))
    filename = f"revenue-{establishment.slug}-{query['date_from']}-{query['date_to']}.csv"
    response = Response(services.export_csv(rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# --- devices and queues ------------------------------------------------------------------------

@bp.get("/dashboard/devices")
@dashboard_page("manager")
def devices_page():
    establishment = _establishment()
    today = services.local_today(establishment.timezone)
    return render_page("dashboard/devices.html", today=today, month_start=today.replace(day=1),
                       money=services.money_format_spec(establishment.currency, str(get_locale())),
                       max_days=services.MAX_RANGE_DAYS)


@bp.get("/dashboard/devices/collections.csv")
@dashboard_page("manager")
def export_collections():
    try:
        query = CollectionExportQuerySchema().load(request.args.to_dict())
    except ValidationError:
        return error_page(400, _l("Choose a valid date range (at most %(days)s days).", days=services.MAX_RANGE_DAYS))
    try:
        rows = services.collection_export_rows(query["date_from"], query["date_to"], query["device"],
                                               str(get_locale()))
    except ApiError as exc:
        if exc.status == 404:
            return error_page(404, _l("Not found."))
        raise
    establishment = _establishment()
    scope = query["device"] or "all"
    filename = f"cash-{establishment.slug}-{scope}-{query['date_from']}-{query['date_to']}.csv"
    response = Response(services.collections_csv(rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/dashboard/queues")
@dashboard_page()
def queues_page():
    queues = []
    for queue in queue_services.list_queues():
        detail = describe_queue(queue, with_waiting=True)
        queues.append({"id": detail["id"], "name": detail["name"], "prefix": detail["prefix"],
                       "active": detail["active"], "waiting": detail.get("waiting_count", 0),
                       "called": len(detail.get("called", []))})
    queues.sort(key=lambda q: q["name"].lower())
    return render_page("dashboard/queues.html", queues=queues)


@bp.get("/dashboard/counter")
@dashboard_page()
def counter_page():
    return render_page("dashboard/counter.html")


@bp.get("/dashboard/refunds")
@dashboard_page("manager")
def refunds_page():
    locale = str(get_locale())
    establishment = _establishment()

    def shown(rows: list[dict]) -> list[dict]:
        return [{**row, "amount_text": services.format_money(row["amount"], row["currency"], locale),
                 "refunded_text": services.format_moment(row["refunded_at"], establishment.timezone, locale)}
                for row in rows]

    due = shown(refund_services.list_refunds("due"))
    done = shown(refund_services.list_refunds("refunded", limit=50))
    total_due = services.format_money(sum(r["amount"] for r in due), establishment.currency, locale)
    return render_page("dashboard/refunds.html", due=due, done=done, total_due=total_due)


@bp.get("/dashboard/theme")
@dashboard_page("manager")
def theme_page():
    return render_page("dashboard/theme.html", text_on=theme_rules.TEXT_ON,
                       min_contrast=theme_rules.MIN_CONTRAST, sounds=theme_rules.SOUNDS)


# --- staff and activity log ------------------------------------------------------------------

@bp.get("/dashboard/staff")
@dashboard_page("manager")
def staff_page():
    return render_page("dashboard/staff.html", me=g.page_claims["sub"])


@bp.get("/dashboard/audit")
@dashboard_page("manager")
def audit_page():
    establishment = _establishment()
    today = services.local_today(establishment.timezone)
    date_from, date_to, error = today - timedelta(days=6), today, None
    if request.args.get("from") or request.args.get("to"):
        try:
            query = DateRangeSchema().load({"from": request.args.get("from", ""), "to": request.args.get("to", "")})
            date_from, date_to = query["date_from"], query["date_to"]
        except ValidationError:
            error = _l("Choose a valid date range (at most %(days)s days).", days=services.MAX_RANGE_DAYS)
    start, end = services.local_day_bounds(date_from, date_to, establishment.timezone)
    events, truncated = audit_services.list_events(start, end, AUDIT_PAGE_LIMIT)
    emails = {user.id: user.email for user in auth_services.list_users()}
    locale = str(get_locale())
    rows = [services.describe_audit_event(e, emails, establishment.timezone, locale, _l("System"))
            for e in events]
    return render_page("dashboard/audit.html", rows=rows, date_from=date_from, date_to=date_to, error=error,
                       truncated=truncated, status=400 if error else 200)


AUDIT_PAGE_LIMIT = 500


@bp.app_context_processor
def _template_helpers() -> dict:
    return {"dashboard_asset": asset_url, "dashboard_layout": layout_context}
