// The page's cookies: the session (HttpOnly, SameSite=Strict, Path=/, Secure over https)
// and a probe that tells the login page whether this browser sends cookies to it at all
// (a cross-site frame does not). Browsers share a host's cookies across its ports, so
// the names carry the port: two daemons on one machine do not log each other out.
import { getCookie, setCookie } from 'hono/cookie';
import type { PageContext } from './respond.js';

const name = (c: PageContext, what: 'session' | 'probe') => `toes_page_${what}_${c.env.incoming.socket.localPort ?? 0}`;

export function cookie(c: PageContext, what: 'session' | 'probe'): string | undefined {
  return getCookie(c, name(c, what));
}

/**
 * Whether the browser reached the page over https (TLS in a proxy in front of it): the
 * Origin a browser sends on the login POST says so, and a proxy's X-Forwarded-Proto.
 * A client that lies only makes its own cookie unusable over http.
 */
export function overHttps(c: PageContext): boolean {
  return (c.req.header('origin') ?? '').startsWith('https://') || c.req.header('x-forwarded-proto') === 'https';
}

function put(c: PageContext, what: 'session' | 'probe', value: string, maxAgeS: number): void {
  setCookie(c, name(c, what), value, { maxAge: maxAgeS, path: '/', httpOnly: true, sameSite: 'Strict', secure: overHttps(c) });
}

export function setSession(c: PageContext, id: string, expiresAt: string): void {
  put(c, 'session', id, Math.max(0, Math.floor((Date.parse(expiresAt) - Date.now()) / 1000)));
}

export function setProbe(c: PageContext): void {
  put(c, 'probe', '1', 600);
}
