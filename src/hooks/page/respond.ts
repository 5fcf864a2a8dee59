// What every answer of the settings page carries: never cached (its assets aside), never
// sniffed, no Referer, scripts and styles from the page itself only, and framed only by
// the page itself, the Toes dashboard (TOES_URL) and this machine's names.
import type { Context, MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import type { HttpBindings } from '@hono/node-server';

/** The page's Hono environment: the node:http request and response underneath, and who is asking. */
export type PageEnv = { Bindings: HttpBindings };
export type PageContext = Context<PageEnv>;

/** Who may frame the page: itself, the Toes dashboard (TOES_URL) and this machine's names. */
const frameAncestors = ["'self'", 'http://localhost:*', 'http://127.0.0.1:*', 'http://*.local:*', 'https://*.local:*'];
export function allowFraming(toesUrl?: string): void {
  try {
    if (toesUrl) frameAncestors.push(new URL(toesUrl).origin);
  } catch {}
}

export function pageHeaders(): MiddlewareHandler<PageEnv> {
  const secure = secureHeaders({
    contentSecurityPolicy: { defaultSrc: ["'self'"], styleSrc: ["'self'"], scriptSrc: ["'self'"], imgSrc: ["'self'", 'data:'], frameAncestors },
    // Belt and braces: a login link's token is in a fragment, which no Referer carries anyway.
    referrerPolicy: 'no-referrer',
    // The Toes dashboard shows the page in an iframe: frame-ancestors above says who may.
    xFrameOptions: false,
    // Served over plain http on the LAN as often as behind a TLS proxy: not for this page to pin.
    strictTransportSecurity: false,
  });
  return async (c, next) => {
    await secure(c, next);
    if (!c.res.headers.has('cache-control')) c.res.headers.set('cache-control', 'no-store');
  };
}

/** The peer's address (loopback, LAN), as the socket says; never a forwarded header. */
export const peerOf = (c: PageContext): string => c.env.incoming.socket.remoteAddress ?? '';
