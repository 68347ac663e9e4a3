/* Managers' overview: total for the range, daily and monthly revenue, VIP count.
 * Data: /stats/revenue/daily, /stats/revenue/monthly, /stats/vip/count (JWT cookie).
 * Money is formatted with the spec the server derived from Babel, so the figures
 * read exactly as in the CSV. Body hooks for tests: data-state, data-loaded-range. */
(function () {
  "use strict";
  var K = window.KioskDashboard;
  var root = document.querySelector("[data-overview]");
  if (!root || !K) { return; }
  var cfg = K.readConfig(root);
  var L = cfg.l || {};
  var money = cfg.money;
  var state = { from: cfg.from, to: cfg.to, preset: cfg.preset };
  var generation = 0;
  var charts = {};

  var el = {
    total: root.querySelector("[data-total]"),
    transactions: root.querySelector("[data-transactions]"),
    vip: root.querySelector("[data-vip-total]"),
    rangeLabel: root.querySelector("[data-range-label]"),
    notice: root.querySelector("[data-notice]"),
    empty: root.querySelector("[data-empty]"),
    emptyMonthly: root.querySelector("[data-empty-monthly]"),
    exportLink: root.querySelector("[data-export]"),
    from: root.querySelector("[data-from]"),
    to: root.querySelector("[data-to]"),
    custom: root.querySelector("[data-custom]"),
    daily: root.querySelector('[data-chart="daily"]'),
    monthly: root.querySelector('[data-chart="monthly"]')
  };

  // --- formatting -------------------------------------------------------------------------
  var format = K.moneyFormat(money);
  var group = format.group;
  var formatMoney = format.money;
  function formatCount(n) { return group(String(n)); }
  function parseDay(s) { var p = s.split("-"); return new Date(Date.UTC(+p[0], +p[1] - 1, p[2] ? +p[2] : 1)); }
  function isoDay(d) { return d.toISOString().slice(0, 10); }
  var dayFmt = new Intl.DateTimeFormat(cfg.locale, { day: "numeric", month: "short", timeZone: "UTC" });
  var longFmt = new Intl.DateTimeFormat(cfg.locale, { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
  var monthFmt = new Intl.DateTimeFormat(cfg.locale, { month: "short", year: "2-digit", timeZone: "UTC" });

  // --- ranges -----------------------------------------------------------------------------
  function presetRange(preset) {
    var today = parseDay(cfg.today);
    if (preset === "today") { return [cfg.today, cfg.today]; }
    if (preset === "7d") { return [isoDay(new Date(today.getTime() - 6 * 864e5)), cfg.today]; }
    return [cfg.today.slice(0, 8) + "01", cfg.today];
  }
  function validRange(from, to) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(from) || !/^\d{4}-\d{2}-\d{2}$/.test(to)) { return false; }
    var days = (parseDay(to) - parseDay(from)) / 864e5 + 1;
    return days >= 1 && days <= cfg.maxDays;
  }
  function monthsBack(to) {
    var d = parseDay(to);
    var index = d.getUTCFullYear() * 12 + d.getUTCMonth() - 11;
    var y = Math.floor(index / 12), m = index % 12 + 1;
    return [y + "-" + (m < 10 ? "0" : "") + m, to.slice(0, 7)];
  }

  // --- charts -----------------------------------------------------------------------------
  function themeColour(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || fallback;
  }
  function makeCharts() {
    if (!window.Chart) { return; }
    var primary = themeColour("--kiosk-primary", "#0b3d91");
    var vip = themeColour("--kiosk-vip", "#c8102e");
    var accent = themeColour("--kiosk-accent", "#ffb400");
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = "#4b5260";
    var moneyAxis = { beginAtZero: true, ticks: { precision: 0, callback: function (v) { return formatMoney(v); } } };
    // Cheap screens and people who asked for less motion get no animation.
    var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    var animation = still ? false : { duration: 250 };
    charts.daily = new Chart(el.daily, {
      type: "bar",
      data: { labels: [], datasets: [
        { label: L.revenue, data: [], backgroundColor: primary, borderRadius: 4, yAxisID: "y", order: 2 },
        { label: L.vip, data: [], type: "line", borderColor: vip, backgroundColor: vip, yAxisID: "vip",
          cubicInterpolationMode: "monotone", pointRadius: 2, order: 1 }
      ] },
      options: {
        responsive: true, maintainAspectRatio: false, animation: animation,
        interaction: { mode: "index", intersect: false },
        scales: { y: moneyAxis,
          vip: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
                 ticks: { precision: 0 } } },
        plugins: { tooltip: { callbacks: { label: function (c) {
          return c.dataset.label + ": " + (c.dataset.yAxisID === "y" ? formatMoney(c.parsed.y) : formatCount(c.parsed.y));
        } } } }
      }
    });
    charts.monthly = new Chart(el.monthly, {
      type: "bar",
      data: { labels: [], datasets: [{ label: L.revenue, data: [], backgroundColor: accent, borderRadius: 4 }] },
      options: {
        responsive: true, maintainAspectRatio: false, animation: animation,
        scales: { y: moneyAxis },
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: function (c) {
          return formatMoney(c.parsed.y);
        } } } }
      }
    });
  }

  // --- loading ----------------------------------------------------------------------------
  function show(node, visible) { node.hidden = !visible; }
  function notice(text) { el.notice.textContent = text || ""; show(el.notice, !!text); }

  function render(daily, vip, monthly) {
    el.total.textContent = formatMoney(daily.total);
    var count = 0;
    daily.days.forEach(function (d) { count += d.transactions; });
    el.transactions.textContent = formatCount(count);
    el.vip.textContent = formatCount(vip.total);
    var vipByDay = {};
    vip.days.forEach(function (d) { vipByDay[d.date] = d.count; });
    var hasDaily = daily.total > 0 || count > 0 || vip.total > 0;
    show(el.empty, !hasDaily);
    el.daily.parentNode.hidden = !hasDaily;
    var monthlyTotal = 0;
    monthly.months.forEach(function (m) { monthlyTotal += m.revenue; });
    show(el.emptyMonthly, monthlyTotal === 0);
    el.monthly.parentNode.hidden = monthlyTotal === 0;
    if (charts.daily) {
      charts.daily.data.labels = daily.days.map(function (d) { return dayFmt.format(parseDay(d.date)); });
      charts.daily.data.datasets[0].data = daily.days.map(function (d) { return d.revenue; });
      charts.daily.data.datasets[1].data = daily.days.map(function (d) { return vipByDay[d.date] || 0; });
      charts.daily.update();
      charts.monthly.data.labels = monthly.months.map(function (m) { return monthFmt.format(parseDay(m.month)); });
      charts.monthly.data.datasets[0].data = monthly.months.map(function (m) { return m.revenue; });
      charts.monthly.update();
    }
  }

  function rangeText(from, to) {
    if (from === to) { return longFmt.format(parseDay(from)); }
    return (L.range || "%from – %to").replace("%from", dayFmt.format(parseDay(from)))
      .replace("%to", longFmt.format(parseDay(to)));
  }

  function load() {
    var mine = ++generation;
    var months = monthsBack(state.to);
    var q = "?from=" + state.from + "&to=" + state.to;
    document.body.setAttribute("data-state", "loading");
    notice("");
    Promise.all([
      K.api("GET", cfg.urls.daily + q),
      K.api("GET", cfg.urls.vip + q),
      K.api("GET", cfg.urls.monthly + "?from=" + months[0] + "&to=" + months[1])
    ]).then(function (answers) {
      if (mine !== generation) { return; }  // a newer range was asked for meanwhile
      var failed = answers.filter(function (a) { return a.status !== 200 || !a.body; });
      if (failed.length) { throw new Error("status " + failed[0].status); }
      render(answers[0].body, answers[1].body, answers[2].body);
      el.rangeLabel.textContent = rangeText(state.from, state.to);
      document.body.setAttribute("data-loaded-range", state.from + ".." + state.to);
      document.body.setAttribute("data-state", "ready");
    }).catch(function () {
      if (mine !== generation) { return; }
      notice(L.error);
      document.body.setAttribute("data-state", "error");
    });
  }

  function apply(from, to, preset) {
    state = { from: from, to: to, preset: preset };
    root.querySelectorAll("[data-preset]").forEach(function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-preset") === preset ? "true" : "false");
    });
    el.from.value = from;
    el.to.value = to;
    el.custom.classList.toggle("open", preset === "custom");
    var qs = "?from=" + from + "&to=" + to;
    el.exportLink.href = cfg.urls.export + qs;
    var url = window.location.pathname + (preset === "custom" ? qs : "?preset=" + preset);
    window.history.replaceState(null, "", url);
    load();
  }

  root.querySelectorAll("[data-preset]").forEach(function (button) {
    button.addEventListener("click", function () {
      var preset = button.getAttribute("data-preset");
      if (preset === "custom") {
        state.preset = "custom";
        el.custom.classList.add("open");
        root.querySelectorAll("[data-preset]").forEach(function (b) {
          b.setAttribute("aria-pressed", b === button ? "true" : "false");
        });
        el.from.focus();
        return;
      }
      var r = presetRange(preset);
      apply(r[0], r[1], preset);
    });
  });
  el.custom.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!validRange(el.from.value, el.to.value)) { notice(L.badRange); return; }
    apply(el.from.value, el.to.value, "custom");
  });

  makeCharts();
  apply(state.from, state.to, state.preset);
})();
