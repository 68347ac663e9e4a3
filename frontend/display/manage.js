/* Managers' displays page: list with health, add, rename, revoke (JSON API, JWT cookie + CSRF). */
(function () {
  'use strict';
  var ds = document.body.dataset, api = ds.api;
  function csrf() { var m = document.cookie.match(/(?:^|; )csrf_access_token=([^;]+)/); return m ? decodeURIComponent(m[1]) : ''; }
  function call(method, url, body) {
    return fetch(url, {
      method: method, credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-TOKEN': csrf() },
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      if (r.status === 401) { location.href = '/login?next=' + encodeURIComponent(location.pathname); throw new Error('login'); }
      return r.json().then(function (j) { if (!r.ok) throw new Error((j.error && j.error.message) || ds.lError); return j; });
    });
  }
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }
  function fail(err) { if (err.message !== 'login') { var a = document.querySelector('[data-alert]'); a.textContent = err.message; a.hidden = false; } }
  function button(text, action) { var b = el('button', 'link', text); b.type = 'button'; b.addEventListener('click', action); return b; }
  function row(d) {
    var tr = el('tr', d.warning ? 'warn' : '');
    tr.appendChild(el('td', null, d.label));
    var health = el('td');
    health.appendChild(el('span', 'pill ' + d.status, ds['lStatus' + d.status.charAt(0).toUpperCase() + d.status.slice(1)]));
    if (d.warning_message) health.appendChild(el('div', 'warning', d.warning_message));
    tr.appendChild(health);
    tr.appendChild(el('td', null, d.quiet_for_seconds == null ? ds.lNever : ds.lAgo.replace('%s', Math.floor(d.quiet_for_seconds / 60))));
    var link = el('td'), a = el('a', null, d.url);
    if (d.status !== 'revoked') { a.href = d.url; a.target = '_blank'; a.rel = 'noopener'; link.appendChild(a); }
    tr.appendChild(link);
    var actions = el('td', 'actions');
    if (d.status !== 'revoked') {
      actions.appendChild(button(ds.lRenameButton, function () {
        var label = prompt(ds.lRename, d.label);
        if (label) call('PATCH', api + '/' + d.id, { label: label }).then(load, fail);
      }));
      actions.appendChild(button(ds.lRevokeButton, function () {
        if (confirm(ds.lRevoke)) call('POST', api + '/' + d.id + '/revoke').then(load, fail);
      }));
    }
    tr.appendChild(actions);
    return tr;
  }
  function load() {
    return call('GET', api).then(function (j) {
      var body = document.querySelector('[data-rows]');
      while (body.firstChild) body.removeChild(body.firstChild);
      j.displays.forEach(function (d) { body.appendChild(row(d)); });
    }, fail);
  }
  document.querySelector('[data-create]').addEventListener('submit', function (e) {
    e.preventDefault();
    var input = e.target.elements.label;
    call('POST', api, { label: input.value }).then(function () { input.value = ''; return load(); }, fail);
  });
  load();
  setInterval(load, 30000);
})();
