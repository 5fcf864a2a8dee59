// The page's only script and stylesheet, served by the daemon itself (no CDN, no build).
export const PAGE_JS = String.raw`'use strict';
(function () {
  var main = document.querySelector('main[data-app]');
  if (!main) return;
  var app = main.getAttribute('data-app');
  var base = '/apps/' + encodeURIComponent(app);

  function notice(text, ok) {
    var n = document.getElementById('notice');
    n.textContent = text;
    n.className = ok ? 'ok' : 'error';
  }

  function post(path, body) {
    return fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-toes-page': '1' },
      body: JSON.stringify(body || {}),
    }).then(function (r) {
      return r.json().catch(function () { return { ok: false, message: 'HTTP ' + r.status }; });
    }).then(function (res) {
      notice(res.message || (res.ok ? 'done' : 'failed'), res.ok);
      return res;
    }, function () {
      notice('the daemon did not answer; is toes serve running?', false);
      return { ok: false };
    });
  }

  function copy(text) {
    if (navigator.clipboard && navigator.clipboard.writeText) return navigator.clipboard.writeText(text);
    var input = document.getElementById('hook-url');
    input.select();
    document.execCommand('copy');
    return Promise.resolve();
  }

  function bind() {
    var toggle = document.getElementById('hook-toggle');
    if (toggle) toggle.onchange = function () { post('/webhook', { enabled: toggle.checked }); };
    var copyBtn = document.getElementById('copy-url');
    if (copyBtn) copyBtn.onclick = function () {
      copy(document.getElementById('hook-url').value).then(function () { notice('URL copied', true); copyBtn.textContent = 'Copied'; });
    };
    var form = document.getElementById('token-form');
    if (form) form.onsubmit = function (e) {
      e.preventDefault();
      var input = document.getElementById('token');
      post('/token', { token: input.value }).then(function (res) { if (res.ok) input.value = ''; });
    };
    var clear = document.getElementById('token-clear');
    if (clear) clear.onclick = function () { post('/token', { clear: true }); };
    var deploy = document.getElementById('deploy-now');
    if (deploy) deploy.onclick = function () { post('/deploy', {}); };
    Array.prototype.forEach.call(document.querySelectorAll('button.rollback'), function (b) {
      b.onclick = function () { b.disabled = true; post('/rollback', { release: b.getAttribute('data-release') }).then(function () { b.disabled = false; }); };
    });
  }

  function ago(iso) {
    var s = Math.round((Date.now() - Date.parse(iso)) / 1000);
    if (!isFinite(s)) return '';
    if (s < 45) return 'just now';
    var n = Math.round(s / 60), unit = 'minute';
    [[60, 'minute'], [3600, 'hour'], [86400, 'day']].forEach(function (u) { if (s >= u[0] * 0.75) { n = Math.round(s / u[0]); unit = u[1]; } });
    return n + ' ' + unit + (n === 1 ? '' : 's') + ' ago';
  }
  setInterval(function () {
    Array.prototype.forEach.call(document.querySelectorAll('time[datetime]'), function (t) { t.textContent = ago(t.getAttribute('datetime')); });
  }, 30000);

  // Live updates: changed sections arrive as HTML, log text as it is written. EventSource
  // reconnects by itself when the daemon restarts.
  var link = document.getElementById('link-state');
  var events = new EventSource(base + '/events');
  events.onopen = function () { link.textContent = 'live'; link.className = 'muted live'; };
  // A stream refused (the login ended) is closed for good; a dropped one reconnects.
  events.onerror = function () {
    var closed = events.readyState === 2;
    link.textContent = closed ? 'not live: reload the page' : 'reconnecting…';
    link.className = 'muted down';
  };
  events.addEventListener('sections', function (e) {
    var parts = JSON.parse(e.data);
    Object.keys(parts).forEach(function (id) {
      var el = document.getElementById(id);
      if (el) el.outerHTML = parts[id];
    });
    bind();
  });
  events.addEventListener('log', function (e) {
    var pre = document.getElementById('log-text');
    if (pre) { pre.textContent += JSON.parse(e.data); pre.scrollTop = pre.scrollHeight; }
  });
  bind();
})();
`;

export const PAGE_CSS = `
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
main { max-width: 960px; margin: 0 auto; padding: 16px 20px 40px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin: 0 0 10px; }
section { background: #fff; border: 1px solid #e1e4ea; border-radius: 8px; padding: 14px 16px; margin: 14px 0; }
.row { display: flex; align-items: center; gap: 8px; margin: 8px 0; flex-wrap: wrap; }
.row > label:first-child { min-width: 120px; color: #4a5468; }
input[readonly], input[type=password] { flex: 1; min-width: 240px; padding: 6px 8px; border: 1px solid #c9ced8; border-radius: 6px; font: 13px ui-monospace, monospace; }
button { padding: 6px 12px; border: 1px solid #c9ced8; border-radius: 6px; background: #fff; cursor: pointer; }
button.primary { background: #2b59c3; color: #fff; border-color: #2b59c3; }
button:disabled { opacity: .5; }
table { width: 100%; border-collapse: collapse; font-size: 14px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #eef0f4; }
tr.live { background: #f0f7f1; }
.live-mark { color: #1f9d55; }
.status { padding: 1px 7px; border-radius: 10px; font-size: 12px; background: #eef0f4; }
.s-live { background: #dff3e4; color: #176b3a; } .s-failed, .s-bad { background: #fde2e1; color: #9b1c1c; }
.s-building { background: #fff4d6; color: #7a5a00; } .s-off { background: #eef0f4; color: #59627a; }
.muted, .exact, .hint { color: #6b7488; font-size: 13px; }
.mono, code { font-family: ui-monospace, monospace; font-size: 13px; }
pre { background: #0f1420; color: #d9e1f2; padding: 10px; border-radius: 6px; max-height: 320px; overflow: auto; font-size: 12px; white-space: pre-wrap; }
#notice { min-height: 22px; font-size: 14px; } #notice.ok { color: #176b3a; } #notice.error { color: #9b1c1c; }
.crumbs a { color: #2b59c3; } .live { color: #1f9d55; } .down { color: #9b1c1c; }
main.login { max-width: 560px; } .in-frame { display: none; } .framed .in-frame, .no-cookies .in-frame { display: block; } .no-cookies #login-form { display: none; }
`;
