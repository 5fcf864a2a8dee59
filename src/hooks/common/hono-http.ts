// Hono apps on our own node:http servers, for `toes serve`'s webhooks and `toes relay` alike
// (the page has its own listener, page/routes.ts). Both runtimes serve through node:http
// (@hono/node-server's getRequestListener), not Bun.serve: hardenServer
// (connection-limits.ts) needs the server's `connection` events to cap and shed
// connections, which Bun.serve does not give.
//
// Three things differ from the adapter's defaults, each for a reason:
// - routing sees the path as the client sent it, not as `new URL` normalises it: otherwise
//   `/hooks/../sample` would reach the route for `/sample` and be answered as something else
//   than the bad app name it is;
// - the adapter's own clean-up of unread bodies is off (it drains only 500 ms, then cuts):
//   `answer` below lingers 5 s on a refused upload, as http-io.ts explains;
// - handlers read the node:http request's headers and body (c.env.incoming), never
//   `c.req.header()` or `c.req.raw.body`, which make the adapter build a whole fetch Request
//   and a web stream over the socket for every delivery.
import type http from 'node:http';
import { getRequestListener, type HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { Context } from 'hono';
import { Hono } from 'hono/tiny';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { reply, type Reply } from './http-io.js';

/** The environment of our apps: the node:http request and response underneath. */
export type HttpEnv = { Bindings: HttpBindings };
export type HttpContext = Context<HttpEnv>;

/** The path as sent (before any `?`), not normalised. */
export function rawPath(incoming: http.IncomingMessage): string {
  const url = incoming.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** A Hono app that routes on the path as sent (PatternRouter: a handful of routes, the smallest router). */
export function httpApp(): Hono<HttpEnv> {
  return new Hono<HttpEnv>({ getPath: (_req, o) => rawPath((o?.env as HttpBindings).incoming) });
}

export function nodeListener(app: Hono<HttpEnv>): http.RequestListener {
  // A request without a Host header (HTTP/1.0: HAProxy's health checks) gets a URL all the same.
  return getRequestListener(app.fetch, { autoCleanupIncoming: false, hostname: 'localhost' });
}

/**
 * The answer, as JSON. A refusal that leaves a body unread (`close: 'linger'`) is written
 * here on the node:http response, which stays open while the rest of the body is dropped:
 * the adapter would end it at once and the kernel would reset the connection.
 */
export function answer(c: HttpContext, a: Reply, value: unknown): Response {
  const { incoming, outgoing } = c.env;
  // An error after the answer began (a page's stream, say): nothing more can be said.
  if (outgoing.headersSent) return RESPONSE_ALREADY_SENT;
  if (a.close === 'linger' && !incoming.complete) {
    reply(incoming, outgoing, a, value);
    return RESPONSE_ALREADY_SENT;
  }
  return c.json(value, a.status as ContentfulStatusCode, a.close ? { ...a.headers, connection: 'close' } : a.headers);
}

/** Passes the request to another node:http listener (the page's, loaded on first use), which answers it itself. */
export function handOver(c: HttpContext, listener: http.RequestListener): Response {
  listener(c.env.incoming, c.env.outgoing);
  return RESPONSE_ALREADY_SENT;
}
