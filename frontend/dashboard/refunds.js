/* Refunds page: "Mark refunded" records a refund through the API, after a confirmation
 * (it is recorded once and for all), then the page reloads with the lists as they stand. */
(function () {
  "use strict";
  var root = document.querySelector("[data-refunds]");
  if (!root) { return; }
  var D = window.KioskDashboard, cfg = D.readConfig(root), l = cfg.l || {};
  var note = root.querySelector("[data-notice]");

  function show(text, kind) {
    note.textContent = text;
    note.className = "notice" + (kind ? " " + kind : "");
    note.hidden = !text;
  }
  function fill(text, button) {
    return text.replace("%a", button.getAttribute("data-amount")).replace("%c", button.getAttribute("data-code"));
  }

  Array.prototype.forEach.call(root.querySelectorAll("[data-refund]"), function (button) {
    button.addEventListener("click", function () {
      if (!window.confirm(fill(l.confirm, button))) { return; }
      var row = button.closest("tr");
      button.disabled = true;
      D.api("POST", "/api/tickets/" + row.getAttribute("data-ticket-id") + "/refund").then(function (r) {
        // 409 already_refunded: someone else recorded it meanwhile; the reload shows it.
        if (r.status === 200 || (r.body && r.body.error && r.body.error.code === "already_refunded")) {
          show(fill(l.done, button), "");
          window.setTimeout(function () { window.location.reload(); }, 600);
          return;
        }
        button.disabled = false;
        show((r.body && r.body.error && r.body.error.message) || l.error, "error");
      }, function () {
        button.disabled = false;
        show(l.error, "error");
      });
    });
  });
})();
