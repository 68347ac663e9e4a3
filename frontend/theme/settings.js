/* Theme settings with a live preview, and the calling rule settings.
 *
 * The preview is styled only through CSS custom properties set with
 * element.style.setProperty (CSSOM, allowed by the strict CSP). Contrast is
 * checked here as you type, with the same WCAG formula as the server
 * (kiosk/queues/theme.py), which stays the authority on save.
 */
(function () {
  "use strict";

  var ds = document.body.dataset;
  var TEXT_ON = JSON.parse(ds.textOn);
  var SOUNDS = JSON.parse(ds.sounds);
  var MIN = parseFloat(ds.minContrast);
  var KEYS = ["primary", "accent", "vip"];
  var HEX = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i;
  var preview = document.querySelector("[data-preview]");
  var themeForm = document.querySelector("[data-theme-form]");
  var callingForm = document.querySelector("[data-calling-form]");

  function $(sel, root) { return (root || document).querySelector(sel); }
  function csrf() {
    var m = document.cookie.match(/(?:^|; )csrf_access_token=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function api(method, url, body) {
    var headers = { "Accept": "application/json" };
    if (method !== "GET") { headers["Content-Type"] = "application/json"; headers["X-CSRF-TOKEN"] = csrf(); }
    return fetch(url, { method: method, credentials: "same-origin", headers: headers,
                        body: body ? JSON.stringify(body) : undefined })
      .then(function (r) {
        if (r.status === 401) {
          location.href = "/login?next=" + encodeURIComponent(location.pathname);
          throw new Error("login");
        }
        return r.json().then(function (j) {
          if (!r.ok) { var e = new Error((j.error && j.error.message) || ds.lError); e.details = j.error && j.error.details; throw e; }
          return j;
        });
      });
  }

  // --- WCAG contrast, as in kiosk/queues/theme.py ---------------------------------------
  function expand(hex) {
    var d = hex.slice(1).toLowerCase();
    return "#" + (d.length === 3 ? d.replace(/./g, "$&$&") : d);
  }
  function luminance(hex) {
    var d = expand(hex).slice(1);
    var c = [0, 2, 4].map(function (i) {
      var v = parseInt(d.slice(i, i + 2), 16) / 255;
      return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }
  function contrast(a, b) {
    var x = luminance(a), y = luminance(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  }

  // --- the theme form ---------------------------------------------------------------------
  function showError(form, field, message) {
    var p = $('[data-error="' + field + '"]', form);
    if (!p) { return; }
    p.textContent = message || "";
    p.hidden = !message;
  }
  function notice(selector, text, kind) {
    var n = $(selector);
    n.textContent = text || "";
    n.className = "notice" + (kind ? " " + kind : "");
    n.hidden = !text;
  }

  function colourChanged(key, value, fromPicker) {
    var hexInput = $('[data-hex="' + key + '"]');
    var picker = $('[data-picker="' + key + '"]');
    var ratio = $('[data-ratio="' + key + '"]');
    if (fromPicker) { hexInput.value = value; }
    if (!HEX.test(value)) {
      ratio.textContent = "";
      ratio.className = "ratio";
      return;
    }
    var full = expand(value);
    if (!fromPicker) { picker.value = full; }
    var r = contrast(full, TEXT_ON[key]);
    var ok = r >= MIN;
    ratio.textContent = ds.lRatio.replace("%s", r.toFixed(2));
    ratio.className = "ratio " + (ok ? "ok" : "bad");
    showError(themeForm, key, ok ? "" : ds.lTooLow.replace("%s", MIN.toFixed(1)));
    preview.style.setProperty("--kiosk-" + key, full);
  }

  function logoChanged() {
    var url = $("[data-logo]").value.trim();
    var img = $("[data-preview-logo]");
    if (/^https:\/\/\S+$/.test(url)) { img.src = url; img.hidden = false; } else { img.hidden = true; img.removeAttribute("src"); }
  }

  KEYS.forEach(function (key) {
    $('[data-picker="' + key + '"]').addEventListener("input", function (e) { colourChanged(key, e.target.value, true); });
    $('[data-hex="' + key + '"]').addEventListener("input", function (e) { colourChanged(key, e.target.value.trim(), false); });
    preview.style.setProperty("--kiosk-on-" + key, TEXT_ON[key]);
  });
  $("[data-logo]").addEventListener("input", logoChanged);
  Array.prototype.forEach.call(document.querySelectorAll("[data-play]"), function (button) {
    button.addEventListener("click", function () {
      var url = SOUNDS[$("[data-sound]").value][button.getAttribute("data-play")];
      if (url) { var a = new Audio(url); var p = a.play(); if (p && p.catch) { p.catch(function () {}); } }
    });
  });

  function fillTheme(theme) {
    KEYS.forEach(function (key) { $('[data-hex="' + key + '"]').value = theme[key]; colourChanged(key, theme[key], false); });
    $("[data-logo]").value = theme.logo_url || "";
    $("[data-sound]").value = theme.sound;
    logoChanged();
  }

  function refreshPageTheme(version) {
    // The page's own colours (header) follow the saved theme.
    var link = document.querySelector('link[href*="theme.css"]');
    if (link) { link.href = link.href.replace(/([?&]v=)[^&]*/, "$1" + encodeURIComponent(version)); }
  }

  themeForm.addEventListener("submit", function (e) {
    e.preventDefault();
    ["primary", "accent", "vip", "logo_url", "sound"].forEach(function (f) { showError(themeForm, f, ""); });
    var body = { sound: $("[data-sound]").value, logo_url: $("[data-logo]").value.trim() || null };
    KEYS.forEach(function (key) { body[key] = $('[data-hex="' + key + '"]').value.trim(); });
    api("PUT", ds.themeUrl, body).then(function (theme) {
      fillTheme(theme);
      refreshPageTheme(theme.version);
      notice("[data-notice]", ds.lSaved, "ok");
    }).catch(function (err) {
      if (err.message === "login") { return; }
      Object.keys(err.details || {}).forEach(function (f) { showError(themeForm, f, [].concat(err.details[f]).join(" ")); });
      notice("[data-notice]", err.details ? ds.lInvalid : err.message, "error");
    });
  });

  // --- the calling rule form ------------------------------------------------------------------
  callingForm.addEventListener("submit", function (e) {
    e.preventDefault();
    ["vip_streak_max", "max_standard_wait_min"].forEach(function (f) { showError(callingForm, f, ""); });
    var body = { vip_streak_max: parseInt($("[data-streak]").value, 10),
                 max_standard_wait_min: parseInt($("[data-max-wait]").value, 10) };
    api("PUT", ds.callingUrl, body).then(function () {
      notice("[data-calling-notice]", ds.lSaved, "ok");
    }).catch(function (err) {
      if (err.message === "login") { return; }
      Object.keys(err.details || {}).forEach(function (f) { showError(callingForm, f, [].concat(err.details[f]).join(" ")); });
      notice("[data-calling-notice]", err.details ? ds.lInvalid : err.message, "error");
    });
  });

  api("GET", ds.themeUrl).then(fillTheme).catch(function (err) {
    if (err.message !== "login") { notice("[data-notice]", err.message, "error"); }
  });
  api("GET", ds.callingUrl).then(function (s) {
    $("[data-streak]").value = s.vip_streak_max;
    $("[data-max-wait]").value = s.max_standard_wait_min;
  }).catch(function () { /* shown by the theme request */ });
}());
