// The page's cookies: the session (HttpOnly, SameSite=Strict, Path=/, Secure over https)
// and a probe that tells the login page whether this browser sends cookies to it at all
// (a cross-site frame does not). Browsers share a host's cookies across its ports, so
// the names carry the port: two daemons on one machine do not log each other out.
import type { IncomingMessage } from 'node:http';

const name = (req: IncomingMessage, what: 'session' | 'probe') => `toes_page_${what}_${req.socket.localPort ?? 0}`;

export function cookie(req: IncomingMessage, what: 'session' | 'probe'): string | undefined {
  const want = name(req, what);
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === want) return part.slice(i + 1).trim();
  }
  return undefined;
}

/**
 * Whether the browser reached the page over https (TLS in a proxy in front of it): the
 * Origin a browser sends on the login POST says so, and a proxy's X-Forwarded-Proto.
 * A client that lies only makes its own cookie unusable over http.
 */
export function overHttps(req: IncomingMessage): boolean {
  return String(req.headers.origin ?? '').startsWith('https://') || req.headers['x-forwarded-proto'] === 'https';
}

function attributes(req: IncomingMessage, maxAgeS: number): string {
  return `; Max-Age=${maxAgeS}; Path=/; HttpOnly; SameSite=Strict${overHttps(req) ? '; Secure' : ''}`;
}

export function sessionCookie(req: IncomingMessage, id: string, expiresAt: string): string {
  return `${name(req, 'session')}=${id}${attributes(req, Math.max(0, Math.floor((Date.parse(expiresAt) - Date.now()) / 1000)))}`;
}

export function probeCookie(req: IncomingMessage): string {
  return `${name(req, 'probe')}=1${attributes(req, 600)}`;
}
