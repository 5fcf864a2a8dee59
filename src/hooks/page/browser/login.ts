// The login page's script. A login link carries its token after `#`: browsers never send
// that part to a server, a proxy or a Referer, so only this script reads it, drops it from
// the address bar and history at once, and POSTs it to /login for the session cookie.
import { notice } from './notice.js';

const form = document.getElementById('login-form') as HTMLFormElement | null;
if (form) start(form);

function start(form: HTMLFormElement): void {
  const input = document.getElementById('login-link') as HTMLInputElement;
  const fromLink = location.hash.slice(1);
  if (fromLink) history.replaceState(null, '', location.pathname + location.search);
  if (window.top !== window) document.body.className = 'framed';
  const tab = document.querySelector<HTMLAnchorElement>('.in-frame a');
  if (tab) tab.href = next();

  // Where the login was asked for: the page itself, or the list of apps after /login.
  function next(): string {
    return location.pathname === '/login' ? '/' + location.search : location.pathname + location.search;
  }
  function tokenOf(text: string): string {
    text = text.trim();
    const i = text.indexOf('#');
    return i >= 0 ? text.slice(i + 1) : text;
  }
  async function session(): Promise<{ ok: boolean; cookies: boolean }> {
    const r = await fetch('/login/session', { headers: { 'x-toes-page': '1' } });
    return r.json();
  }
  async function login(token: string): Promise<void> {
    notice('Logging in…', true, () => false);
    try {
      const r = await fetch('/login', { method: 'POST', headers: { 'content-type': 'application/json', 'x-toes-page': '1' }, body: JSON.stringify({ token }) });
      const res = (await r.json().catch(() => ({ ok: false, message: `HTTP ${r.status}` }))) as { ok?: boolean; message?: string };
      if (res.ok) location.replace(next());
      else notice(res.message || 'The login failed.', false);
    } catch {
      notice('The daemon did not answer; is toes serve running?', false);
    }
  }
  form.onsubmit = (e) => {
    e.preventDefault();
    const token = tokenOf(input.value);
    input.value = '';
    if (token) void login(token);
  };

  // Ask first: a link from another site (or a frame on one) arrives without the SameSite
  // cookie even when this browser is logged in; a same-site request says so, and whether
  // cookies reach this page here at all, before a one-time link is spent.
  session().then(
    (s) => {
      if (s.ok) return location.replace(next());
      if (!s.cookies) {
        document.body.className += ' no-cookies';
        return notice('This browser does not send this page its login here (a frame on another site). Open it in its own tab.', false);
      }
      if (fromLink) void login(fromLink);
    },
    () => {
      if (fromLink) void login(fromLink);
    },
  );
}
