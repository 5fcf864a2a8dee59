// The page's login. `/login` is a page whose script spends a login link (its token came in
// the URL's fragment, which no server sees) with a POST for the session cookie;
// `/login/session` says whether this browser is logged in and sends cookies here at all.
// Every other page route passes `admit` first: without a live session, HTML routes answer
// with the login page and the rest with 401 JSON, saying nothing about the apps.
import type { Hono, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { RateLimiter } from '../relay/limits.js';
import { cookie, setProbe, setSession } from './cookies.js';
import type { PageDeps } from './deps.js';
import { fromThePage } from './guard.js';
import { checkSession, LINK_TTL_MS, redeemLink } from './login-store.js';
import { peerOf, type PageContext, type PageEnv } from './respond.js';
import { loginPage } from './views.js';

const NOT_VALID = `This login link is not valid: it was used already, it expired (links last ${LINK_TTL_MS / 60_000} minutes), or logins were revoked; run \`toes page\` on the server for a new one.`;

/** The login page, with the probe cookie whose return shows cookies reach this page. */
function showLogin(c: PageContext, status: 200 | 401): Response {
  setProbe(c);
  return c.html(loginPage(), status);
}

/**
 * Login attempts per address: ten at once, then one every 6 s. A person pasting a link
 * never meets it; a guesser gets 10 a minute (the 256-bit token makes guessing hopeless
 * anyway, but every other endpoint sheds floods too). 1,000 addresses tracked at most.
 */
export function loginBudget(): RateLimiter {
  return new RateLimiter(1 / 6, 10, 1_000);
}

/** /login and /login/session. */
export function loginRoutes(app: Hono<PageEnv>, deps: PageDeps): void {
  const budget = loginBudget();
  app.get('/login/session', async (c) => {
    const id = cookie(c, 'session');
    const { ok, renewed } = await checkSession(deps.layout, id);
    if (renewed) setSession(c, id!, renewed);
    return c.json({ ok, cookies: ok || cookie(c, 'probe') !== undefined }, ok ? 200 : 401);
  });
  app.get('/login', (c) => showLogin(c, 200));
  app.post(
    '/login',
    async (c, next) => {
      if (!fromThePage(c.env.incoming)) {
        deps.log('refused', { status: 403, reason: 'a login without the page\'s headers or from another origin' });
        return c.json({ ok: false, message: 'Logins are accepted only from the login page.' }, 403);
      }
      if (!budget.take(peerOf(c))) {
        const wait = budget.retryAfter();
        deps.log('refused', { status: 429, reason: 'too many logins from one address', from: peerOf(c) });
        c.header('retry-after', String(wait));
        return c.json({ ok: false, message: `Too many login attempts from this address; wait ${wait} seconds, then open a new link from \`toes page\`.` }, 429);
      }
      await next();
    },
    bodyLimit({ maxSize: 4096, onError: (c) => c.json({ ok: false, message: 'the body is over 4096 bytes' }, 413) }),
    async (c) => {
      let token: unknown;
      try {
        token = ((await c.req.json()) as { token?: unknown }).token;
      } catch {}
      const session = typeof token === 'string' ? await redeemLink(deps.layout, token) : undefined;
      if (!session) {
        deps.log('refused', { status: 401, reason: 'a login link that is not valid', from: peerOf(c) });
        return c.json({ ok: false, message: NOT_VALID }, 401);
      }
      deps.log('login', { from: peerOf(c), until: session.expiresAt });
      setSession(c, session.id, session.expiresAt);
      return c.json({ ok: true });
    },
  );
  app.all('/login', (c) => {
    c.header('allow', 'GET, HEAD, POST');
    return c.text('GET or POST only', 405);
  });
}

/**
 * Lets requests with a live session on (their cookie renewed when the expiry slid); answers
 * the rest: with the login page where a person asked for a page, else 401 JSON.
 */
export function admit(deps: PageDeps): MiddlewareHandler<PageEnv> {
  return async (c, next) => {
    const id = cookie(c, 'session');
    const { ok, renewed } = await checkSession(deps.layout, id);
    if (ok) {
      if (renewed) setSession(c, id!, renewed);
      return next();
    }
    deps.log('refused', { status: 401, reason: id ? 'a session that is not valid (expired or revoked)' : 'no session', path: c.req.path.slice(0, 80) });
    const forPeople = (c.req.method === 'GET' || c.req.method === 'HEAD') && c.req.path.split('/').filter(Boolean).length <= 2;
    if (forPeople) return showLogin(c, 401);
    return c.json({ ok: false, message: 'Log in first: run `toes page` on the server and open the link it prints, then reload this page.' }, 401);
  };
}
