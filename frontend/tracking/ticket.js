/* Customer ticket page: keeps the server-rendered page live.
 *
 * Transport: short polling of /t/<token>.json with ETag (a 304 costs no body).
 * Polling is the most robust choice behind phone carriers' proxies and flaky
 * mobile networks: there is no connection to lose, so "reconnecting" is just
 * the next request. Every poll interval is <= 1 s while the page is visible,
 * 5 s while hidden, and backs off exponentially (with jitter, up to 30 s) on
 * errors; coming back to the page, or online, polls at once.
 */
(function () {
  "use strict";

  var body = document.body;
  var jsonUrl = body.getAttribute("data-json-url");
  var pollMs = Math.min(1000, parseInt(body.getAttribute("data-poll-ms"), 10) || 750);
  var HIDDEN_MS = 5000;
  var FINAL_MS = 30000;
  var MAX_BACKOFF_MS = 30000;
  var FINAL = { SERVED: true, NO_SHOW: true, CANCELLED: true, EXPIRED: true };

  var state = {
    status: body.getAttribute("data-status"),
    kind: body.getAttribute("data-kind"),
    callCount: parseInt(body.getAttribute("data-call-count"), 10) || 0,
    themeVersion: body.getAttribute("data-theme-version"),
    sounds: { STANDARD: body.getAttribute("data-sound-standard"), VIP: body.getAttribute("data-sound-vip") }
  };
  var etag = null;
  var failures = 0;
  var timer = null;
  var inFlight = false;
  var audio = {};

  function $(selector) { return document.querySelector(selector); }
  function $all(selector) { return Array.prototype.slice.call(document.querySelectorAll(selector)); }

  function setText(field, value) {
    $all('[data-field="' + field + '"]').forEach(function (el) {
      var text = value === null || value === undefined ? "—" : String(value);
      if (el.textContent !== text) { el.textContent = text; }
    });
  }

  function setConnection(value) {
    if (body.getAttribute("data-connection") !== value) {
      body.setAttribute("data-connection", value);
    }
    var note = $("[data-connection-note]");
    if (note) { note.hidden = value === "live"; }
  }

  // --- alerts: sound (where autoplay allows) and vibration -------------------------
  function soundFor(kind) {
    var url = state.sounds[kind === "VIP" ? "VIP" : "STANDARD"];
    if (!url) { return null; }
    if (!audio[url]) { audio[url] = new Audio(url); audio[url].preload = "auto"; }
    return audio[url];
  }

  function alertCalled(kind) {
    if (navigator.vibrate) {
      try { navigator.vibrate(kind === "VIP" ? [200, 100, 200, 100, 600] : [400, 200, 400]); } catch (e) { /* not allowed */ }
    }
    var sound = soundFor(kind);
    if (sound) {
      try {
        sound.currentTime = 0;
        var played = sound.play();
        if (played && played.catch) { played.catch(function () { /* autoplay refused until a tap */ }); }
      } catch (e) { /* ignore */ }
    }
  }

  function armAlerts() {
    // A tap unlocks audio and vibration on mobile browsers: play silently once.
    ["STANDARD", "VIP"].forEach(function (kind) {
      var sound = soundFor(kind);
      if (!sound) { return; }
      sound.muted = true;
      var played = sound.play();
      var restore = function () { sound.pause(); sound.currentTime = 0; sound.muted = false; };
      if (played && played.then) { played.then(restore, restore); } else { restore(); }
    });
    if (navigator.vibrate) { try { navigator.vibrate(50); } catch (e) { /* ignore */ } }
    var button = $("[data-alerts]");
    var on = $("[data-alerts-on]");
    if (button) { button.hidden = true; }
    if (on) { on.hidden = false; }
  }

  // --- rendering ------------------------------------------------------------------------
  function apply(data) {
    var t = data.ticket;
    setText("code", t.code);
    setText("position", t.position);
    setText("eta-min", t.eta_minutes ? t.eta_minutes.min : null);
    setText("eta-max", t.eta_minutes ? t.eta_minutes.max : null);
    setText("counter", t.counter || "");

    if (t.kind !== state.kind) {
      state.kind = t.kind;
      body.setAttribute("data-kind", t.kind);
      body.classList.toggle("is-vip", t.kind === "VIP");
      var tag = $("[data-vip-tag]");
      if (tag) { tag.hidden = t.kind !== "VIP"; }
    }
    var calledNow = t.status === "CALLED" &&
      (state.status !== "CALLED" || (t.call_count || 0) > state.callCount);
    if (t.status !== state.status) {
      $all("[data-when]").forEach(function (el) { el.hidden = el.getAttribute("data-when") !== t.status; });
      body.setAttribute("data-status", t.status);
    }
    state.status = t.status;
    var refund = data.refund || {};
    $all("[data-refund]").forEach(function (el) { el.hidden = !refund[el.getAttribute("data-refund")]; });
    state.callCount = t.call_count || 0;
    body.setAttribute("data-call-count", String(state.callCount));
    if (data.sounds) { state.sounds = { STANDARD: data.sounds.standard, VIP: data.sounds.vip }; }
    if (data.theme && data.theme.version !== state.themeVersion) { swapTheme(data.theme.version); }
    if (calledNow) {
      document.title = "🔔 " + t.code + " → " + (t.counter || "");
      alertCalled(t.kind);
    }
  }

  function swapTheme(version) {
    var link = $("link[data-theme-css]");
    if (!link) { return; }
    state.themeVersion = version;
    body.setAttribute("data-theme-version", version);
    link.setAttribute("href", body.getAttribute("data-theme-url") + "?v=" + encodeURIComponent(version));
  }

  // --- polling ---------------------------------------------------------------------------
  function nextDelay() {
    if (failures > 0) {
      var base = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, failures - 1));
      return base * (0.75 + Math.random() * 0.5);
    }
    if (FINAL[state.status]) { return FINAL_MS; }
    return document.visibilityState === "hidden" ? HIDDEN_MS : pollMs;
  }

  function schedule(delay) {
    clearTimeout(timer);
    timer = setTimeout(poll, delay);
  }

  function poll() {
    if (inFlight) { return; }
    inFlight = true;
    var controller = window.AbortController ? new AbortController() : null;
    var deadline = setTimeout(function () { if (controller) { controller.abort(); } }, 8000);
    var headers = { "Accept": "application/json" };
    if (etag) { headers["If-None-Match"] = etag; }
    fetch(jsonUrl, { headers: headers, cache: "no-store", credentials: "omit",
                     signal: controller ? controller.signal : undefined })
      .then(function (response) {
        if (response.status === 304) { return null; }
        if (response.status === 404) { throw new Error("gone"); }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        etag = response.headers.get("ETag");
        return response.json();
      })
      .then(function (data) {
        failures = 0;
        setConnection("live");
        if (data) { apply(data); }
      })
      .catch(function () {
        failures += 1;
        // One missed poll is not worth a banner; two are.
        if (failures >= 2) { setConnection("reconnecting"); }
      })
      .then(function () {
        clearTimeout(deadline);
        inFlight = false;
        schedule(nextDelay());
      });
  }

  function pollSoon() { if (!inFlight) { schedule(0); } }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { pollSoon(); }
  });
  window.addEventListener("online", function () { failures = 0; pollSoon(); });
  window.addEventListener("pageshow", function (event) { if (event.persisted) { pollSoon(); } });

  // --- payment confirmation (fresh VIP ticket), once per ticket ----------------------------
  function confirmPayment() {
    var overlay = $("[data-confirm]");
    if (!overlay || body.getAttribute("data-fresh-vip") !== "true") { return; }
    var key = "kiosk:confirmed:" + body.getAttribute("data-ticket-id");
    try {
      if (window.sessionStorage.getItem(key)) { return; }
      window.sessionStorage.setItem(key, "1");
    } catch (e) { /* private mode: show it anyway */ }
    overlay.hidden = false;
    var done = function () { overlay.hidden = true; };
    overlay.addEventListener("animationend", function (event) { if (event.target === overlay) { done(); } });
    overlay.addEventListener("click", done);
    setTimeout(done, 3200);
  }

  var button = $("[data-alerts]");
  if (button) { button.addEventListener("click", armAlerts); }
  confirmPayment();
  schedule(pollMs);
}());
