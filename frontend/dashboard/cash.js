/* Kiosks page, cash part: each box's expected amount, the "collect" action (count,
 * see the difference, record), the collection history with differences beyond the
 * manager's threshold highlighted, the CSV export and the revenue per kiosk.
 * Data: /api/devices/<id>/cash, /api/devices/<id>/collections, /api/settings/cash,
 * /stats/revenue/devices (JWT cookie + X-CSRF-TOKEN). Amounts are minor units,
 * formatted with the server's Babel spec. Body hook for tests: data-cash-state. */
(function () {
  "use strict";
  var K = window.KioskDashboard;
  var root = document.querySelector("[data-cash]");
  var kiosksRoot = document.querySelector("[data-devices]");
  if (!root || !kiosksRoot || !K) { return; }
  var cfg = K.readConfig(root);
  var L = cfg.l || {};
  var fmt = K.moneyFormat(cfg.money);
  var timeFmt = new Intl.DateTimeFormat(cfg.locale, { dateStyle: "medium", timeStyle: "short" });
  var state = { devices: [], boxes: {}, threshold: 0, current: null, generation: 0 };

  function $(name) { return root.querySelector("[data-" + name + "]"); }
  function text(tag, value, className) {
    var node = document.createElement(tag);
    node.textContent = value;
    if (className) { node.className = className; }
    return node;
  }
  function errorOf(answer) { return (answer.body && answer.body.error && answer.body.error.message) || L.error; }
  function notice(value) { var el = $("cash-notice"); el.textContent = value || ""; el.hidden = !value; }
  function deviceUrl(id, tail) { return cfg.urls.devices + "/" + encodeURIComponent(id) + "/" + tail; }
  function differenceText(difference) {
    if (difference === 0) { return L.exact; }
    return (difference < 0 ? L.short : L.over).replace("%s", fmt.money(Math.abs(difference)));
  }
  function beyond(difference) { return Math.abs(difference) > state.threshold; }
  function busy() {
    var pending = root.querySelectorAll("[data-loading]").length + kiosksRoot.querySelectorAll("[data-loading]").length;
    document.body.setAttribute("data-cash-state", pending ? "loading" : "ready");
  }

  // --- the boxes, in the kiosks table -------------------------------------------------------
  function loadBox(device) {
    var cell = kiosksRoot.querySelector('tr[data-device="' + CSS.escape(device.device_id) + '"] [data-cash-cell]');
    if (!cell) { return Promise.resolve(); }
    cell.setAttribute("data-loading", "");
    busy();
    return K.api("GET", deviceUrl(device.device_id, "cash")).then(function (answer) {
      cell.removeAttribute("data-loading");
      cell.replaceChildren();
      if (answer.status !== 200) { cell.textContent = "—"; busy(); return; }
      var content = answer.body;
      state.boxes[device.device_id] = content;
      var amount = text("strong", fmt.money(content.expected), "cash-amount");
      amount.setAttribute("data-cash-expected", String(content.expected));
      cell.appendChild(amount);
      cell.appendChild(text("div", L.since.replace("%s", timeFmt.format(new Date(content.since))), "hint"));
      var button = text("button", L.collect, "btn");
      button.type = "button";
      button.setAttribute("data-collect-open", "");
      button.addEventListener("click", function () { openCollect(device.device_id); });
      cell.appendChild(button);
      if (state.current === device.device_id) { showBox(content); }
      busy();
    }, function () { cell.removeAttribute("data-loading"); cell.textContent = "—"; busy(); });
  }

  function loadBoxes() {
    return Promise.all(state.devices.map(loadBox));
  }

  // --- collect ------------------------------------------------------------------------------
  var card = $("collect");
  var counted = $("collect-counted");
  counted.step = fmt.step;

  function openCollect(deviceId) {
    state.current = deviceId;
    $("collect-result").hidden = true;
    counted.value = "";
    $("collect-difference").textContent = "";
    card.hidden = false;
    showBox(state.boxes[deviceId]);
    card.scrollIntoView({ block: "nearest" });
    counted.focus();
  }

  function showBox(content) {
    if (!content) { return; }
    $("collect-title").textContent = L.collectTitle.replace("%s", content.label);
    $("collect-expected").textContent = fmt.money(content.expected);
    $("collect-expected").setAttribute("data-value", String(content.expected));
    var counts = { CONFIRMED: 0, FAILED: 0, PENDING: 0 };
    content.payments.forEach(function (p) { counts[p.status] = (counts[p.status] || 0) + 1; });
    $("collect-detail").textContent = L.payments.replace("%s", content.payments.length) + " · " +
      L.since.replace("%s", timeFmt.format(new Date(content.since))) + " · " +
      L.breakdown.replace("%paid", counts.CONFIRMED).replace("%refused", counts.FAILED).replace("%pending", counts.PENDING);
    var others = Object.keys(content.other_currencies || {});
    $("collect-other").hidden = !others.length;
    $("collect-other").textContent = others.length ? L.other.replace("%s", others.map(function (c) {
      return content.other_currencies[c] + " " + c; }).join(", ")) : "";
    updateDifference();
  }

  function updateDifference() {
    var out = $("collect-difference");
    var content = state.boxes[state.current];
    var value = fmt.parse(counted.value);
    out.className = "difference";
    out.removeAttribute("data-beyond");
    if (!content || value === null) { out.textContent = ""; return; }
    var difference = value - content.expected;
    out.textContent = differenceText(difference);
    out.classList.add(difference === 0 ? "exact" : difference < 0 ? "short" : "over");
    if (difference !== 0 && beyond(difference)) {
      out.setAttribute("data-beyond", "");
      // With a threshold of 0 every difference stands out; naming "0" would only confuse.
      if (state.threshold > 0) { out.textContent += " — " + L.beyond.replace("%s", fmt.money(state.threshold)); }
    }
  }
  counted.addEventListener("input", updateDifference);

  $("collect-cancel").addEventListener("click", function () { card.hidden = true; state.current = null; });

  $("collect-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var deviceId = state.current;
    var content = state.boxes[deviceId];
    var value = fmt.parse(counted.value);
    var result = $("collect-result");
    if (!content || value === null) {
      result.className = "notice error"; result.textContent = L.badCount; result.hidden = false;
      return;
    }
    var submit = $("collect-submit");
    submit.disabled = true;
    // last_collection_id: if another manager collected this box since it was shown, refuse (409).
    K.api("POST", deviceUrl(deviceId, "collections"), { counted: value, last_collection_id: content.last_collection_id })
      .then(function (answer) {
        submit.disabled = false;
        if (answer.status === 201) {
          var made = answer.body;
          result.className = "notice " + (made.beyond_threshold ? "error" : "ok");
          result.textContent = L.recorded.replace("%s", made.number) + " " + differenceText(made.difference);
          result.setAttribute("data-difference", String(made.difference));
          result.hidden = false;
          counted.value = "";
          $("collect-difference").textContent = "";
          historySelect.value = deviceId;  // show the box's history, with the new line on top
          loadHistory();
        } else {
          result.className = "notice error";
          result.textContent = answer.status === 409 ? L.conflict : errorOf(answer);
          result.hidden = false;
        }
        return loadBox({ device_id: deviceId });
      }, function () { submit.disabled = false; result.className = "notice error"; result.textContent = L.error; result.hidden = false; });
  });

  // --- history ------------------------------------------------------------------------------
  var historySelect = $("history-device");
  var exportSelect = $("export-device");

  function fillSelects() {
    var chosen = historySelect.value;
    historySelect.replaceChildren.apply(historySelect, state.devices.map(function (d) {
      var option = text("option", d.label);
      option.value = d.device_id;
      return option;
    }));
    if (chosen && state.devices.some(function (d) { return d.device_id === chosen; })) { historySelect.value = chosen; }
    var exportChosen = exportSelect.value;
    var all = exportSelect.querySelector('option[value=""]');
    exportSelect.replaceChildren.apply(exportSelect, [all].concat(state.devices.map(function (d) {
      var option = text("option", d.label);
      option.value = d.device_id;
      return option;
    })));
    exportSelect.value = exportChosen;
  }

  function historyRow(c) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-collection", c.id);
    if (c.beyond_threshold) { tr.className = "beyond"; tr.setAttribute("data-beyond", ""); }
    tr.appendChild(text("td", String(c.number)));
    tr.appendChild(text("td", timeFmt.format(new Date(c.collected_at))));
    tr.appendChild(text("td", fmt.money(c.expected), "num"));
    tr.appendChild(text("td", fmt.money(c.counted), "num"));
    var difference = text("td", (c.difference > 0 ? "+" : "") + fmt.money(c.difference),
                          "num " + (c.difference === 0 ? "exact" : c.difference < 0 ? "short" : "over"));
    difference.setAttribute("data-difference", String(c.difference));
    tr.appendChild(difference);
    tr.appendChild(text("td", String(c.payments), "num"));
    tr.appendChild(text("td", c.collected_by || "—"));
    return tr;
  }

  function loadHistory() {
    var deviceId = historySelect.value;
    var rows = $("history-rows");
    var empty = $("history-empty");
    if (!deviceId) { rows.replaceChildren(); empty.hidden = true; return Promise.resolve(); }
    var generation = ++state.generation;
    rows.setAttribute("data-loading", "");
    busy();
    return K.api("GET", deviceUrl(deviceId, "collections") + "?limit=50").then(function (answer) {
      if (generation !== state.generation) { return; }
      rows.removeAttribute("data-loading");
      if (answer.status !== 200) { notice(errorOf(answer)); busy(); return; }
      var list = answer.body.collections || [];
      rows.replaceChildren.apply(rows, list.map(historyRow));
      empty.textContent = L.noCollections;
      empty.hidden = list.length > 0;
      busy();
    }, function () { rows.removeAttribute("data-loading"); notice(L.error); busy(); });
  }
  historySelect.addEventListener("change", loadHistory);

  // --- threshold ----------------------------------------------------------------------------
  var thresholdInput = $("threshold");
  thresholdInput.step = fmt.step;

  function loadSettings() {
    return K.api("GET", cfg.urls.settings).then(function (answer) {
      if (answer.status !== 200) { return; }
      state.threshold = answer.body.difference_threshold;
      thresholdInput.value = fmt.input(state.threshold);
    });
  }

  $("threshold-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var value = fmt.parse(thresholdInput.value);
    var saved = $("threshold-saved");
    if (value === null) { thresholdInput.reportValidity(); return; }
    K.api("PUT", cfg.urls.settings, { difference_threshold: value }).then(function (answer) {
      if (answer.status !== 200) { notice(errorOf(answer)); return; }
      state.threshold = answer.body.difference_threshold;
      saved.textContent = L.saved;
      notice("");
      updateDifference();
      loadHistory();  // the highlight follows the new threshold
    }, function () { notice(L.error); });
  });

  // --- export -------------------------------------------------------------------------------
  function validRange(from, to) {
    if (!from || !to || from > to) { return false; }
    return (Date.parse(to) - Date.parse(from)) / 86400000 + 1 <= cfg.maxDays;
  }
  $("export-form").addEventListener("submit", function (event) {
    if (!validRange($("export-from").value, $("export-to").value)) {
      event.preventDefault();
      notice(L.badRange);
    }
  });

  // --- revenue per kiosk --------------------------------------------------------------------
  function loadRevenue() {
    var from = $("revenue-from").value;
    var to = $("revenue-to").value;
    var rows = $("revenue-rows");
    if (!validRange(from, to)) { notice(L.badRange); return Promise.resolve(); }
    rows.setAttribute("data-loading", "");
    busy();
    var url = cfg.urls.revenue + "?from=" + encodeURIComponent(from) + "&to=" + encodeURIComponent(to);
    return K.api("GET", url).then(function (answer) {
      rows.removeAttribute("data-loading");
      if (answer.status !== 200) { notice(errorOf(answer)); busy(); return; }
      var body = answer.body;
      rows.replaceChildren.apply(rows, body.devices.map(function (d) {
        var tr = document.createElement("tr");
        tr.setAttribute("data-revenue-device", d.device_id);
        tr.appendChild(text("td", d.label || L.unknownKiosk));
        tr.appendChild(text("td", fmt.group(String(d.transactions)), "num"));
        tr.appendChild(text("td", fmt.money(d.revenue), "num"));
        return tr;
      }));
      $("revenue-count").textContent = fmt.group(String(body.transactions));
      $("revenue-total").textContent = fmt.money(body.total);
      notice("");
      busy();
    }, function () { rows.removeAttribute("data-loading"); notice(L.error); busy(); });
  }
  $("revenue-form").addEventListener("submit", function (event) { event.preventDefault(); loadRevenue(); });

  // --- wiring -------------------------------------------------------------------------------
  kiosksRoot.addEventListener("kiosks:loaded", function (event) {
    state.devices = event.detail || [];
    fillSelects();
    loadBoxes();
    loadHistory();
  });
  loadSettings().then(updateDifference);
  loadRevenue();
})();
