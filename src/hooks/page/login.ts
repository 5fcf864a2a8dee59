// The page's login. `/login` is a page whose script spends a login link (its token came in
// the URL's fragment, which no server sees) with a POST for the session cookie;
// `/login/session` says whether this browser is logged in and sends cookies here at all.
// Every other page route passes `admit` first: without a live session, HTML routes answer
// with the login page and the rest with 401 JSON, saying nothing about the apps.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../common/http-io.js';
import { RateLimiter } from '../relay/limits.js';
import { cookie, probeCookie, sessionCookie } from './cookies.js';
import type { PageDeps } from './deps.js';
import { fromThePage } from './guard.js';
import { checkSession, LINK_TTL_MS, redeemLink } from './login-store.js';
import { json, send } from './respond.js';
import { loginPage } from './views.js';

const HTML = 'text/html; charset=utf-8';
const NOT_VALID = `This login link is not valid: it was used already, it expired (links last ${LINK_TTL_MS / 60_000} minutes), or logins were revoked; run \`toes page\` on the server for a new one.`;

/** The login page, with the probe cookie whose return shows cookies reach this page. */
function showLogin(req: IncomingMessage, res: ServerResponse, status: number): void {
  send(res, status, HTML, loginPage(), { 'set-cookie': probeCookie(req) });
}

/**
 * Login attempts per address: ten at once, then one every 6 s. A person pasting a link
 * never meets it; a guesser gets 10 a minute (the 256-bit token makes guessing hopeless
 * anyway, but every other endpoint sheds floods too). 1,000 addresses tracked at most.
 */
export function loginBudget(): RateLimiter {
  return new RateLimiter(1 / 6, 10, 1_000);
}

/** Handles /login and /login/session; false for any other path. */
export async function loginRoute(deps: PageDeps, req: IncomingMessage, res: ServerResponse, path: string, budget: RateLimiter): Promise<boolean> {
  if (path === '/login/session') {
    const id = cookie(req, 'session');
    const { ok, renewed } = await checkSession(deps.layout, id);
    if (renewed) res.setHeader('set-cookie', sessionCookie(req, id!, renewed));
    json(res, ok ? 200 : 401, { ok, cookies: ok || cookie(req, 'probe') !== undefined });
    return true;
  }
  if (path !== '/login') return false;
  if (req.method === 'GET' || req.method === 'HEAD') return showLogin(req, res, 200), true;
  if (req.method !== 'POST') return send(res, 405, 'text/plain', 'GET or POST only', { allow: 'GET, HEAD, POST' }), true;
  if (!fromThePage(req)) {
    deps.log('refused', { status: 403, reason: 'a login without the page\'s headers or from another origin' });
    json(res, 403, { ok: false, message: 'Logins are accepted only from the login page.' });
    return true;
  }
  const from = req.socket.remoteAddress ?? '';
  if (!budget.take(from)) {
    const wait = budget.retryAfter();
    deps.log('refused', { status: 429, reason: 'too many logins from one address', from });
    req.resume();
    send(res, 429, 'application/json', JSON.stringify({ ok: false, message: `Too many login attempts from this address; wait ${wait} seconds, then open a new link from \`toes page\`.` }), { 'retry-after': String(wait) });
    return true;
  }
  const read = await readBody(req, 4096, 10_000);
  if ('refuse' in read) return json(res, read.refuse.status, { ok: false, message: read.refuse.message }), true;
  let token: unknown;
  try {
    token = JSON.parse(read.body.toString('utf8')).token;
  } catch {}
  const session = typeof token === 'string' ? await redeemLink(deps.layout, token) : undefined;
  if (!session) {
    deps.log('refused', { status: 401, reason: 'a login link that is not valid', from: req.socket.remoteAddress });
    json(res, 401, { ok: false, message: NOT_VALID });
    return true;
  }
  deps.log('login', { from: req.socket.remoteAddress, until: session.expiresAt });
  send(res, 200, 'application/json', JSON.stringify({ ok: true }), { 'set-cookie': sessionCookie(req, session.id, session.expiresAt) });
  return true;
}

/**
 * True when the request carries a live session (its cookie renewed when the expiry slid);
 * otherwise answers it and returns false. `html`: the route shows a page to a person.
 */
export async function admit(deps: PageDeps, req: IncomingMessage, res: ServerResponse, html: boolean): Promise<boolean> {
  const id = cookie(req, 'session');
  const { ok, renewed } = await checkSession(deps.layout, id);
  if (ok) {
    if (renewed) res.setHeader('set-cookie', sessionCookie(req, id!, renewed));
    return true;
  }
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  deps.log('refused', { status: 401, reason: id ? 'a session that is not valid (expired or revoked)' : 'no session', path: path.slice(0, 80) });
  if (html) showLogin(req, res, 401);
  else json(res, 401, { ok: false, message: 'Log in first: run `toes page` on the server and open the link it prints, then reload this page.' });
  return false;
}
