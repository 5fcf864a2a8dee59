// Hono apps on our own node:http servers, for `toes serve`'s webhooks and `toes relay` alike
// (the page has its own listener, page/routes.ts). Hono routes each request to its handler,
// with its errors and 404s; the handler answers on the node:http response underneath
// (c.env.outgoing) and returns `SENT`.
//
// Why not @hono/node-server with Request and Response objects, as the page does: on Node,
// the first touch of the global Request or Response loads Node's fetch (undici), which the
// daemon otherwise loads only to send notifications, when a receiver is set (deploys and
// their health checks run in worker processes). Measured with `node dist/bench/serve-ab.js` (3 interleaved rounds against the
// node:http router this replaced, load average 6.8), that adapter cost `toes serve` on Node
// 4.5 MB of idle RSS (53.7 -> 58.2 MB, +8.5%) and 6.2 MB after a burst of webhooks (77.8 ->
// 84.0 MB, +8.0%); on Bun 1.9 MB idle (+4.1%) and 3.3 MB after the burst (+5.2%), against
// the 5% allowed. Here a request costs Hono's Context and nothing more. That also rules out Hono's
// bodyLimit and secureHeaders, which work on those objects: bodies are read by
// common/http-io.ts (which lingers on a refused upload, as it says why), and the answers
// are JSON for forges and scripts, not pages a browser renders.
//
// Both runtimes serve through node:http, not Bun.serve: hardenServer (connection-limits.ts)
// needs the server's `connection` events to cap and shed connections.
import type http from 'node:http';
import type { Context, Hono as HonoApp } from 'hono';
import { Hono } from 'hono/tiny';
import { reply, type Reply } from './http-io.js';

/** The environment of our apps: the node:http request and response underneath. */
export type HttpEnv = { Bindings: { incoming: http.IncomingMessage; outgoing: http.ServerResponse } };
export type HttpContext = Context<HttpEnv>;

/** What a handler returns once its answer is written (Hono only passes it back to us). */
const SENT = Object.freeze({}) as Response;

/** The path as sent (before any `?`), not normalised: `/hooks/../x` is a bad app name, not `/x`. */
export function rawPath(incoming: http.IncomingMessage): string {
  const url = incoming.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/**
 * A Hono app routing on the path as sent (PatternRouter: a handful of routes, the smallest
 * router). Each path has one handler, which checks the method itself: a request that
 * matches two (a POST route and an ALL route) goes through Hono's compose, a few promises
 * more per webhook.
 */
export function httpApp(): HonoApp<HttpEnv> {
  return new Hono<HttpEnv>({ getPath: (_req, o) => rawPath((o?.env as HttpEnv['Bindings']).incoming) });
}

export function nodeListener(app: HonoApp<HttpEnv>): http.RequestListener {
  return (incoming, outgoing) => {
    // Hono reads the method of what it is given, and the path through getPath above. HEAD
    // is routed as GET; node:http leaves the body out of a HEAD answer by itself.
    const request = { method: incoming.method === 'HEAD' ? 'GET' : incoming.method, url: incoming.url } as unknown as Request;
    // Hono hands a handler's errors to onError; this catches only what escapes that.
    const failed = () => outgoing.headersSent || reply(incoming, outgoing, { status: 500, close: 'now' }, { ok: false, message: 'internal error' });
    try {
      const done = app.fetch(request, { incoming, outgoing });
      if (done instanceof Promise) done.catch(failed);
    } catch {
      failed();
    }
  };
}

/** The answer, as JSON, written on the node:http response (http-io.ts: lingering on an unread body included). */
export function answer(c: HttpContext, a: Reply, value: unknown): Response {
  // An error after the answer began (a page's stream, say): nothing more can be said.
  if (!c.env.outgoing.headersSent) reply(c.env.incoming, c.env.outgoing, a, value);
  return SENT;
}

/** Passes the request to another node:http listener (the page's, loaded on first use), which answers it itself. */
export function handOver(c: HttpContext, listener: http.RequestListener): Response {
  listener(c.env.incoming, c.env.outgoing);
  return SENT;
}
