/* Managers' kiosks page: list (label, status, last seen, queue), disable/enable,
 * rotate the secret (shown once, with a copy button) and claim codes for new kiosks.
 * Data: /api/devices, /api/queues, /api/devices/claims (JWT cookie + X-CSRF-TOKEN).
 * Each render fires "kiosks:loaded" (detail: the devices) for cash.js. */
(function () {
  "use strict";
  var K = window.KioskDashboard;
  var root = document.querySelector("[data-devices]");
  if (!root || !K) { return; }
  var cfg = K.readConfig(root);
  var L = cfg.l || {};
  var rows = root.querySelector("[data-rows]");
  var empty = root.querySelector("[data-empty]");
  var noticeEl = root.querySelector("[data-notice]");
  var reveal = root.querySelector("[data-reveal]");
  var queueSelect = root.querySelector("[data-claim-queue]");
  var timeFmt = new Intl.DateTimeFormat(cfg.locale, { dateStyle: "medium", timeStyle: "short" });
  var clockFmt = new Intl.DateTimeFormat(cfg.locale, { hour: "2-digit", minute: "2-digit" });

  function notice(text) { noticeEl.textContent = text || ""; noticeEl.hidden = !text; }
  function text(tag, value, className) {
    var node = document.createElement(tag);
    node.textContent = value;
    if (className) { node.className = className; }
    return node;
  }
  function template(name) { var t = root.querySelector("[data-" + name + "]"); return t ? t.content.textContent.trim() : ""; }

  function ago(iso) {
    if (!iso) { return L.never; }
    var minutes = Math.floor((Date.now() - Date.parse(iso)) / 60000);
    if (minutes < 1) { return L.justNow; }
    if (minutes < 60) { return L.minutesAgo.replace("%s", minutes); }
    if (minutes < 24 * 60) { return L.hoursAgo.replace("%s", Math.floor(minutes / 60)); }
    return timeFmt.format(new Date(iso));
  }

  function button(label, className, onClick) {
    var b = text("button", label, "btn " + (className || ""));
    b.type = "button";
    b.addEventListener("click", function () { b.disabled = true; onClick().then(function () { b.disabled = false; }); });
    return b;
  }

  function act(device, action, question) {
    if (question && !window.confirm(question)) { return Promise.resolve(); }
    notice("");
    return K.api("POST", cfg.urls.devices + "/" + encodeURIComponent(device.device_id) + "/" + action)
      .then(function (answer) {
        if (answer.status !== 200) { notice((answer.body && answer.body.error && answer.body.error.message) || L.error); return; }
        if (action === "rotate-secret") {
          show(L.secretFor.replace("%s", device.label), answer.body.secret_key, template("warning-secret"), "");
        }
        return load();
      }, function () { notice(L.error); });
  }

  function row(device) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-device", device.device_id);
    var name = text("td", device.label);
    name.appendChild(text("div", device.device_id, "hint"));
    tr.appendChild(name);
    var status = document.createElement("td");
    var active = device.status === "ACTIVE";
    status.appendChild(text("span", active ? L.active : L.disabled, "status " + (active ? "status-active" : "status-disabled")));
    status.setAttribute("data-status", device.status);
    tr.appendChild(status);
    var seen = text("td", ago(device.last_seen));
    if (device.last_seen) { seen.title = timeFmt.format(new Date(device.last_seen)); }
    tr.appendChild(seen);
    tr.appendChild(text("td", device.queue_name || L.noQueue));
    var cashCell = document.createElement("td");
    cashCell.setAttribute("data-cash-cell", "");  // filled by cash.js
    tr.appendChild(cashCell);
    var actions = document.createElement("td");
    actions.className = "actions";
    actions.appendChild(active
      ? button(L.disable, "btn-danger", function () { return act(device, "disable", L.confirmDisable); })
      : button(L.enable, "", function () { return act(device, "enable"); }));
    var rotate = button(L.rotate, "", function () { return act(device, "rotate-secret", L.confirmRotate); });
    rotate.setAttribute("data-rotate", "");
    actions.appendChild(rotate);
    tr.appendChild(actions);
    return tr;
  }

  function load() {
    return K.api("GET", cfg.urls.devices).then(function (answer) {
      if (answer.status !== 200) { notice(L.error); return; }
      var devices = (answer.body && answer.body.devices) || [];
      devices.sort(function (a, b) { return a.label.localeCompare(b.label); });
      rows.replaceChildren.apply(rows, devices.map(row));
      empty.hidden = devices.length > 0;
      // cash.js fills each row's cash box cell and its kiosk lists from this.
      root.dispatchEvent(new CustomEvent("kiosks:loaded", { detail: devices }));
      document.body.setAttribute("data-state", "ready");
    }, function () { notice(L.error); });
  }

  function loadQueues() {
    return K.api("GET", cfg.urls.queues).then(function (answer) {
      var queues = (answer.body && answer.body.queues) || [];
      queueSelect.replaceChildren.apply(queueSelect, queues.map(function (q) {
        var option = text("option", q.name + " (" + q.prefix + ")");
        option.value = q.id;
        return option;
      }));
    });
  }

  // --- one-time reveal: a new secret or a claim code ---------------------------------------
  function show(title, value, warning, hint) {
    reveal.querySelector("[data-reveal-title]").textContent = title;
    reveal.querySelector("[data-reveal-value]").textContent = value;
    reveal.querySelector("[data-reveal-warning]").textContent = warning;
    var hintEl = reveal.querySelector("[data-reveal-hint]");
    hintEl.textContent = hint || "";
    hintEl.hidden = !hint;
    reveal.querySelector("[data-copy]").textContent = L.copy;
    reveal.hidden = false;
    reveal.scrollIntoView({ block: "nearest" });
  }
  reveal.querySelector("[data-reveal-close]").addEventListener("click", function () {
    reveal.querySelector("[data-reveal-value]").textContent = "";  // nothing left in the page
    reveal.hidden = true;
  });
  reveal.querySelector("[data-copy]").addEventListener("click", function () {
    var copyButton = this;
    var value = reveal.querySelector("[data-reveal-value]").textContent;
    var done = function () { copyButton.textContent = L.copied; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(value).then(done, function () { selectValue(); });
    } else { selectValue(); }
  });
  function selectValue() {
    var range = document.createRange();
    range.selectNodeContents(reveal.querySelector("[data-reveal-value]"));
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  root.querySelector("[data-claim-form]").addEventListener("submit", function (event) {
    event.preventDefault();
    var form = event.target;
    var label = form.querySelector("[data-claim-label]").value.trim();
    if (!label || !queueSelect.value) { form.reportValidity(); return; }
    notice("");
    K.api("POST", cfg.urls.claims, { label: label, queue_id: queueSelect.value }).then(function (answer) {
      if (answer.status !== 201) { notice((answer.body && answer.body.error && answer.body.error.message) || L.error); return; }
      show(template("title-claim"), answer.body.claim_code, template("warning-claim"),
           L.expires.replace("%s", clockFmt.format(new Date(answer.body.expires_at))));
      form.reset();
    }, function () { notice(L.error); });
  });

  loadQueues();
  load();
})();
