/* Counter screen: an agent picks a queue and a counter, then calls, recalls,
 * serves and marks no-shows; the waiting list stays live.
 *
 * Auth is the dashboard's JWT cookie; every write sends the CSRF header
 * (X-CSRF-TOKEN from the csrf_access_token cookie). The queue is polled every
 * 2 s while the page is visible (the API caches it until the next change),
 * with backoff on errors. Keyboard: N call next, R recall, S served, X no-show.
 */
(function () {
  "use strict";

  var ds = document.body.dataset;
  var POLL_MS = 2000;
  var HIDDEN_MS = 10000;
  var queueSelect = document.querySelector("[data-queue]");
  var counterInput = document.querySelector("[data-counter]");
  var state = { queueId: null, counter: "", current: null, busy: false, failures: 0, timer: null };

  function $(sel) { return document.querySelector(sel); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }
  function csrf() {
    var m = document.cookie.match(/(?:^|; )csrf_access_token=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function notice(text, kind) {
    var n = $("[data-notice]");
    n.textContent = text || "";
    n.className = "notice" + (kind ? " " + kind : "");
    n.hidden = !text;
  }

  function api(method, url, body) {
    var headers = { "Accept": "application/json" };
    if (method !== "GET") { headers["X-CSRF-TOKEN"] = csrf(); headers["Content-Type"] = "application/json"; }
    return fetch(url, { method: method, credentials: "same-origin", headers: headers,
                        body: body ? JSON.stringify(body) : undefined })
      .then(function (r) {
        if (r.status === 401) {
          location.href = "/login?next=" + encodeURIComponent(location.pathname);
          throw new Error("login");
        }
        if (r.status === 204) { return null; }
        return r.json().then(function (j) {
          if (!r.ok) {
            var err = new Error((j.error && j.error.message) || ds.lError);
            err.code = j.error && j.error.code;
            throw err;
          }
          return j;
        });
      });
  }

  // --- setup: queue + counter, remembered on this device ------------------------------
  function remember() {
    try {
      localStorage.setItem("kiosk:counter", state.counter);
      localStorage.setItem("kiosk:queue", state.queueId || "");
    } catch (e) { /* private mode */ }
  }
  function recalled(key) { try { return localStorage.getItem(key) || ""; } catch (e) { return ""; } }

  function loadQueues() {
    return api("GET", ds.queuesUrl).then(function (j) {
      var saved = recalled("kiosk:queue");
      queueSelect.textContent = "";
      j.queues.forEach(function (q) {
        var o = el("option", null, q.name + " (" + q.prefix + ")" + (q.active ? "" : " — " + ds.lClosed));
        o.value = q.id;
        if (q.id === saved) { o.selected = true; }
        queueSelect.appendChild(o);
      });
      counterInput.value = recalled("kiosk:counter");
      applySetup();
    });
  }

  function applySetup() {
    state.queueId = queueSelect.value || null;
    state.counter = counterInput.value.trim();
    remember();
    if (!state.queueId || !state.counter) { notice(ds.lPick); } else { notice(""); }
    refresh();
  }

  queueSelect.addEventListener("change", applySetup);
  counterInput.addEventListener("change", applySetup);
  $("[data-setup]").addEventListener("submit", function (e) { e.preventDefault(); applySetup(); });

  // --- rendering --------------------------------------------------------------------------
  function minutesSince(iso) {
    return Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 60000));
  }

  function renderCurrent(ticket) {
    state.current = ticket;
    $("[data-current]").classList.toggle("is-vip", !!ticket && ticket.kind === "VIP");
    $("[data-current-code]").textContent = ticket ? ticket.code : "—";
    $("[data-current-vip]").hidden = !ticket || ticket.kind !== "VIP";
    $("[data-current-since]").textContent = ticket && ticket.called_at ?
      ds.lWaited.replace("%s", minutesSince(ticket.called_at)) : "";
    ["recall", "serve", "no-show"].forEach(function (action) {
      $('[data-action="' + action + '"]').disabled = !ticket || state.busy;
    });
    $('[data-action="call-next"]').disabled = state.busy || !state.queueId || !state.counter;
  }

  function renderQueue(q) {
    var body = $("[data-waiting]");
    body.textContent = "";
    q.waiting.forEach(function (t) {
      var tr = el("tr", t.kind === "VIP" ? "vip" : "");
      tr.appendChild(el("td", "pos", t.position));
      var code = el("td", "code", t.code);
      if (t.kind === "VIP") { code.appendChild(el("span", "tag-vip", ds.lVip)); }
      tr.appendChild(code);
      tr.appendChild(el("td", null, ds.lWaited.replace("%s", minutesSince(t.created_at))));
      tr.appendChild(el("td", null, t.eta_minutes ?
        ds.lEta.replace("%min", t.eta_minutes.min).replace("%max", t.eta_minutes.max) : ""));
      body.appendChild(tr);
    });
    $("[data-waiting-count]").textContent = q.waiting_count;
    $("[data-empty]").hidden = q.waiting.length > 0;
    $("[data-meta]").textContent = ds.lMeta.replace("%c", q.counters_open)
      .replace("%m", Math.round(q.mean_service_seconds / 60));
    var called = $("[data-called]");
    called.textContent = "";
    var mine = null;
    q.called.forEach(function (t) {
      var li = el("li", t.kind === "VIP" ? "vip" : "", t.code + " → " + t.counter);
      called.appendChild(li);
      if (t.counter === state.counter && (!mine || t.called_at > mine.called_at)) { mine = t; }
    });
    renderCurrent(mine);
  }

  // --- live polling -------------------------------------------------------------------------
  function schedule(delay) { clearTimeout(state.timer); state.timer = setTimeout(refresh, delay); }

  function refresh() {
    if (!state.queueId) { return; }
    var queueId = state.queueId;
    api("GET", ds.queuesUrl + "/" + queueId).then(function (q) {
      if (queueId !== state.queueId) { return; }
      state.failures = 0;
      $("[data-live]").hidden = false;
      if ($("[data-notice]").textContent === ds.lOffline) { notice(""); }
      state.lastQueue = q;
      renderQueue(q);
    }).catch(function (err) {
      if (err.message === "login") { return; }
      state.failures += 1;
      $("[data-live]").hidden = true;
      notice(ds.lOffline, "warn");
    }).then(function () {
      var delay = state.failures ? Math.min(30000, 1000 * Math.pow(2, state.failures)) :
        (document.visibilityState === "hidden" ? HIDDEN_MS : POLL_MS);
      schedule(delay);
    });
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { schedule(0); }
  });

  // --- actions ---------------------------------------------------------------------------------
  function act(action) {
    if (state.busy || !state.queueId || !state.counter) { return; }
    var request;
    if (action === "call-next") {
      request = api("POST", ds.queuesUrl + "/" + state.queueId + "/call-next", { counter: state.counter });
    } else if (state.current) {
      request = api("POST", "/api/tickets/" + state.current.ticket_id + "/" + action);
    } else {
      return;
    }
    state.busy = true;
    renderCurrent(state.current);
    request.then(function (ticket) {
      if (action === "call-next") {
        notice(ticket ? "" : ds.lNobody, ticket ? "" : "info");
      } else {
        notice("");
      }
      if (ticket && ticket.status === "CALLED") { renderCurrent(ticket); }
      else if (action !== "call-next") { renderCurrent(null); }
    }).catch(function (err) {
      if (err.message !== "login") { notice(err.message, "error"); }
    }).then(function () {
      state.busy = false;
      renderCurrent(state.current);
      schedule(0);
    });
  }

  // --- end of the service day (managers) ---------------------------------------------------------
  // A confirmation first: it expires every ticket still in line, and cannot be undone.
  var closeButton = $("[data-close-day]"), closeDialog = $("[data-close-dialog]");
  if (closeButton && closeDialog) {
    closeButton.addEventListener("click", function () {
      if (!state.queueId) { notice(ds.lPick, "info"); return; }
      var count = (state.lastQueue ? state.lastQueue.waiting_count + state.lastQueue.called.length : 0);
      $("[data-close-count]").textContent = ds.lCloseCount.replace("%s", count);
      closeDialog.returnValue = "";
      closeDialog.showModal();
    });
    closeDialog.addEventListener("close", function () {
      if (closeDialog.returnValue !== "confirm" || !state.queueId) { return; }
      closeButton.disabled = true;
      api("POST", ds.queuesUrl + "/" + state.queueId + "/close-day").then(function (j) {
        notice(ds.lDayClosed.replace("%s", j.expired), "info");
        renderCurrent(null);
      }).catch(function (err) {
        if (err.message !== "login") { notice(err.message, "error"); }
      }).then(function () { closeButton.disabled = false; schedule(0); });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-action]"), function (button) {
    button.addEventListener("click", function () { act(button.getAttribute("data-action")); });
  });
  var KEYS = { n: "call-next", r: "recall", s: "serve", x: "no-show" };
  document.addEventListener("keydown", function (e) {
    var tag = (e.target.tagName || "").toLowerCase();
    if (e.ctrlKey || e.metaKey || e.altKey || tag === "input" || tag === "select" || tag === "textarea") { return; }
    var action = KEYS[e.key.toLowerCase()];
    if (action) { e.preventDefault(); act(action); }
  });

  loadQueues().catch(function (err) { if (err.message !== "login") { notice(err.message, "error"); } });
}());
