// The login page's script. A login link carries its token after `#`: browsers never send
// that part to a server, a proxy or a Referer, so only this script reads it, drops it from
// the address bar and history at once, and POSTs it to /login for the session cookie.
export const LOGIN_JS = String.raw`'use strict';
(function () {
  var form = document.getElementById('login-form');
  if (!form) return;
  var input = document.getElementById('login-link');
  var notice = document.getElementById('notice');
  var fromLink = location.hash.slice(1);
  if (fromLink) history.replaceState(null, '', location.pathname + location.search);
  if (window.top !== window) document.body.className = 'framed';
  var tab = document.querySelector('.in-frame a');
  if (tab) tab.href = next();

  function say(text, ok) {
    notice.textContent = text;
    notice.className = ok ? 'ok' : 'error';
  }
  // Where the login was asked for: the page itself, or the list of apps after /login.
  function next() {
    return location.pathname === '/login' ? '/' + location.search : location.pathname + location.search;
  }
  function tokenOf(text) {
    text = text.trim();
    var i = text.indexOf('#');
    return i >= 0 ? text.slice(i + 1) : text;
  }
  function session() {
    return fetch('/login/session', { headers: { 'x-toes-page': '1' } }).then(function (r) { return r.json(); });
  }
  function login(token) {
    say('Logging in…', true);
    return fetch('/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-toes-page': '1' },
      body: JSON.stringify({ token: token }),
    }).then(function (r) {
      return r.json().catch(function () { return { ok: false, message: 'HTTP ' + r.status }; });
    }).then(function (res) {
      if (res.ok) location.replace(next());
      else say(res.message || 'The login failed.', false);
    }, function () {
      say('The daemon did not answer; is toes serve running?', false);
    });
  }
  form.onsubmit = function (e) {
    e.preventDefault();
    var token = tokenOf(input.value);
    input.value = '';
    if (token) login(token);
  };

  // Ask first: a link from another site (or a frame on one) arrives without the SameSite
  // cookie even when this browser is logged in; a same-site request says so, and whether
  // cookies reach this page here at all, before a one-time link is spent.
  session().then(function (s) {
    if (s.ok) return location.replace(next());
    if (!s.cookies) {
      document.body.className += ' no-cookies';
      return say('This browser does not send this page its login here (a frame on another site). Open it in its own tab.', false);
    }
    if (fromLink) login(fromLink);
  }, function () {
    if (fromLink) login(fromLink);
  });
})();
`;
