/* Managers' staff page: list accounts, add one, deactivate/reactivate, change the role,
 * set a new password. Data: /api/users (JWT cookie + X-CSRF-TOKEN on every write).
 * The server enforces every rule (last manager, unique email); this page shows its answers. */
(function () {
  "use strict";
  var K = window.KioskDashboard;
  var root = document.querySelector("[data-staff]");
  if (!root || !K) { return; }
  var cfg = K.readConfig(root);
  var L = cfg.l || {};
  var rows = root.querySelector("[data-rows]");
  var noticeEl = root.querySelector("[data-notice]");
  var successEl = root.querySelector("[data-success]");

  function notice(text) { noticeEl.textContent = text || ""; noticeEl.hidden = !text; if (text) { success(""); } }
  function success(text) { successEl.textContent = text || ""; successEl.hidden = !text; }
  function errorText(answer) { return (answer.body && answer.body.error && answer.body.error.message) || L.error; }
  function text(tag, value, className) {
    var node = document.createElement(tag);
    node.textContent = value;
    if (className) { node.className = className; }
    return node;
  }
  function button(label, className, onClick) {
    var b = text("button", label, "btn " + (className || ""));
    b.type = "button";
    b.addEventListener("click", function () {
      b.disabled = true;
      Promise.resolve(onClick()).then(function () { b.disabled = false; });
    });
    return b;
  }

  function patch(user, body, question, done) {
    if (question && !window.confirm(question.replace("%s", user.email))) { return Promise.resolve(); }
    notice("");
    return K.api("PATCH", cfg.urls.users + "/" + encodeURIComponent(user.id), body).then(function (answer) {
      if (answer.status !== 200) { notice(errorText(answer)); return; }
      success(done ? done.replace("%s", user.email) : L.saved);
      return load();
    }, function () { notice(L.error); });
  }

  function passwordForm(user, cell) {
    var form = document.createElement("form");
    form.className = "inline-password";
    form.noValidate = true;
    var input = document.createElement("input");
    input.type = "password";
    input.minLength = 8;
    input.maxLength = 256;
    input.autocomplete = "new-password";
    input.placeholder = L.newPassword;
    input.setAttribute("aria-label", L.newPassword);
    input.setAttribute("data-new-password", "");
    var save = text("button", L.save, "btn btn-primary");
    save.type = "submit";
    var cancel = button(L.cancel, "", function () { form.remove(); });
    form.append(input, save, cancel);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (input.value.length < 8) { notice(L.tooShort); input.focus(); return; }
      save.disabled = true;
      patch(user, { password: input.value }, null, L.passwordSet).then(function () {
        input.value = "";  // never left in the page
        save.disabled = false;
      });
    });
    cell.appendChild(form);
    input.focus();
  }

  function row(user) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-user", user.email);
    var email = text("td", user.email);
    if (user.id === cfg.me) { email.appendChild(text("span", " (" + L.you + ")", "hint")); }
    tr.appendChild(email);
    var role = text("td", user.role === "manager" ? L.manager : L.agent);
    role.setAttribute("data-role", user.role);
    tr.appendChild(role);
    var status = document.createElement("td");
    status.setAttribute("data-active", user.active ? "true" : "false");
    status.appendChild(text("span", user.active ? L.active : L.inactive,
      "status " + (user.active ? "status-active" : "status-disabled")));
    tr.appendChild(status);
    var actions = document.createElement("td");
    actions.className = "actions";
    if (user.active) {
      actions.appendChild(button(user.role === "manager" ? L.makeAgent : L.makeManager, "", function () {
        return patch(user, { role: user.role === "manager" ? "agent" : "manager" }, L.confirmRole);
      })).setAttribute("data-change-role", "");
      actions.appendChild(button(L.setPassword, "", function () {
        if (!actions.querySelector("form")) { passwordForm(user, actions); }
      })).setAttribute("data-set-password", "");
      actions.appendChild(button(L.deactivate, "btn-danger", function () {
        return patch(user, { active: false }, L.confirmDeactivate);
      })).setAttribute("data-deactivate", "");
    } else {
      actions.appendChild(button(L.reactivate, "", function () {
        return patch(user, { active: true });
      })).setAttribute("data-reactivate", "");
    }
    tr.appendChild(actions);
    return tr;
  }

  function load() {
    return K.api("GET", cfg.urls.users).then(function (answer) {
      if (answer.status !== 200) { notice(L.error); return; }
      var users = (answer.body && answer.body.users) || [];
      rows.replaceChildren.apply(rows, users.map(row));
      document.body.setAttribute("data-state", "ready");
    }, function () { notice(L.error); });
  }

  root.querySelector("[data-add-form]").addEventListener("submit", function (event) {
    event.preventDefault();
    var form = event.target;
    var email = form.querySelector("[data-add-email]");
    var password = form.querySelector("[data-add-password]");
    if (!form.checkValidity()) { form.reportValidity(); return; }
    notice("");
    K.api("POST", cfg.urls.users, {
      email: email.value.trim(), password: password.value, role: form.querySelector("[data-add-role]").value
    }).then(function (answer) {
      password.value = "";
      if (answer.status !== 201) { notice(errorText(answer)); return; }
      success(L.added.replace("%s", answer.body.email));
      form.reset();
      return load();
    }, function () { notice(L.error); });
  });

  load();
})();
