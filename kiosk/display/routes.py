"""Displays: the managers' API, the TV page, its poll fallback and WebSocket."""
from __future__ import annotations

from flask import (Blueprint, Response, abort, current_app, g, redirect, render_template, request,
                   send_from_directory)
from flask_babel import get_locale

from kiosk.auth.access import authenticate_staff, manager_required
from kiosk.display import services, tokens
from kiosk.display.protocol import serve_display
from kiosk.display.schemas import DisplayCreatedSchema, DisplayLabelSchema, DisplayListSchema, DisplaySchema
from kiosk.errors import ApiError, NotFound
from kiosk.establishments.services import current_establishment
from kiosk.extensions import sock
from kiosk.observability.openapi import document, json_object
from kiosk.security import auth_failure, identity_guarded
from kiosk.web import FRONTEND, asset_url, json_body

api_bp = Blueprint("display_api", __name__, url_prefix="/api/displays")
public_bp = Blueprint("display", __name__)
manage_bp = Blueprint("display_manage", __name__)
blueprints = [api_bp, public_bp, manage_bp]

ASSETS = ("display/waiting-display.css", "display/waiting-display.js", "sounds/call-standard.wav",
          "sounds/call-vip.wav")

display_label_schema = DisplayLabelSchema()
display_created_schema = DisplayCreatedSchema()
display_schema = DisplaySchema()
display_list_schema = DisplayListSchema()


def _base_url() -> str:
    return current_app.config.get("PUBLIC_BASE_URL") or request.host_url


# --- managers ------------------------------------------------------------------------

@api_bp.post("")
@document(body=display_label_schema, responses={201: display_created_schema})
@manager_required
def create_display() -> tuple[dict, int]:
    data = display_label_schema.load(json_body())
    display = services.create_display(data["label"])
    payload = {"id": display.id, "token": display.token, "label": display.label,
               "url": services.display_url(display.token, _base_url())}
    return display_created_schema.dump(payload), 201


@api_bp.get("")
@document(responses={200: display_list_schema}, summary="Displays with their health")
@manager_required
def list_displays() -> dict:
    return display_list_schema.dump({"displays": services.describe_all(_base_url())})


@api_bp.get("/<display_id>")
@document(responses={200: display_schema})
@manager_required
def get_display(display_id: str) -> dict:
    display = services.get_display(display_id)
    return display_schema.dump(services.describe(display, current_establishment(), _base_url()))


@api_bp.patch("/<display_id>")
@document(body=display_label_schema, responses={200: display_schema})
@manager_required
def rename_display(display_id: str) -> dict:
    services.get_display(display_id)  # another tenant's id is a 404 before any 400
    data = display_label_schema.load(json_body())
    display = services.rename_display(display_id, data["label"])
    return display_schema.dump(services.describe(display, current_establishment(), _base_url()))


@api_bp.post("/<display_id>/revoke")
@document(responses={200: display_schema})
@manager_required
def revoke_display(display_id: str) -> dict:
    display = services.revoke_display(display_id)
    return display_schema.dump(services.describe(display, current_establishment(), _base_url()))


@manage_bp.get("/dashboard/displays")
def manage_page() -> Response | str:
    """The managers' page: each display with its health (data from the API above)."""
    try:
        claims = authenticate_staff()
    except ApiError as exc:
        if exc.status == 401:
            return redirect(f"/login?next={request.path}")
        raise
    if claims["role"] != "manager":
        abort(403)
    return render_template("display/manage.html", locale=str(get_locale()),
                           css_url=asset_url("display/manage.css"), js_url=asset_url("display/manage.js"))


# --- the TV ------------------------------------------------------------------------------

@public_bp.before_request
def _resolve_socket_token() -> None:
    # flask-sock completes the handshake before the view runs: refuse an
    # unknown or revoked token here, while a plain 404 is still possible.
    if request.endpoint != "display.display_socket":
        return
    ref = tokens.resolve((request.view_args or {}).get("token", ""))
    if ref is None:
        # A failed display token counts like any failed authentication (per
        # IP). A valid one is not counted against its IP (identity_guarded):
        # the default limit's Redis round trip was the largest part of a
        # cached handshake, and the 1,000 screens of a storm ran its
        # connection pool dry (docs/performance.md).
        raise auth_failure(NotFound())
    g.display_ref = ref
    # No permessage-deflate: a zlib context per TV costs ~300 KB for frames
    # of a few hundred bytes. Without the offer, none is negotiated.
    request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)


@sock.route("/ws/display/<token>", bp=public_bp)
@identity_guarded
def display_socket(ws, token: str) -> None:
    serve_display(ws, g.display_ref, current_app._get_current_object())


@public_bp.get("/display/sw.js")
def service_worker() -> Response:
    response = send_from_directory(FRONTEND / "display", "sw.js", mimetype="text/javascript", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/display/"
    return response


@public_bp.get("/display/<token>")
def display_page(token: str) -> Response:
    ref = services.resolve_token(token)
    if ref is None:
        raise auth_failure(NotFound())
    g.establishment_locale = ref.locale
    g.establishment_timezone = ref.timezone
    config = current_app.config
    html = render_template(
        "display/display.html", ref=ref, token=token,
        css_url=asset_url(ASSETS[0]), js_url=asset_url(ASSETS[1]),
        assets=" ".join(asset_url(a) for a in ASSETS),
        stale_seconds=config.get("DISPLAY_STALE_SECONDS", 45),
        poll_seconds=config.get("DISPLAY_POLL_SECONDS", 5),
        reload_hour=config.get("DISPLAY_RELOAD_HOUR", 3),
    )
    # The service worker goes to the network first and keeps a copy for offline boots.
    return Response(html, headers={"Cache-Control": "no-cache"})


@public_bp.get("/display/<token>/state.json")
@document(responses={200: json_object("The TV's snapshot, as the WebSocket sends it (docs/display.md)")},
          summary="A display's state: the poll fallback of the WebSocket (counts as a heartbeat)")
def display_state(token: str) -> Response:
    resolved = services.resolve_poll_token(token)
    if resolved is None:
        raise auth_failure(NotFound())
    display_id, establishment_id, seq = resolved
    # Written once a minute: it also says whether the display was revoked meanwhile.
    if not services.record_heartbeat(display_id, establishment_id):
        raise auth_failure(NotFound())
    text, _seq = services.snapshot_json(establishment_id, seq)
    return Response(text, mimetype="application/json", headers={"Cache-Control": "no-store"})
