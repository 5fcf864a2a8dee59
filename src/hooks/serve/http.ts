// The daemon's HTTP servers, one Hono app each: webhooks at POST /hooks/<app>, GET /health,
// and the settings page (loaded on its first visit); or, with --page-host / --page-port, one
// server for webhooks (and /health) and one for the page (and /health), so the page can
// stay on loopback or the LAN while webhooks listen publicly. Stopping closes them while
// the running deploys stop: requests already inside get their answers, a client that
// stalls is cut off.
//
// Both runtimes serve through node:http with @hono/node-server's request listener:
// hardenServer (connection-limits.ts) counts and times out sockets, which Bun.serve does
// not expose, and the receiver keeps its own body reading (common/http-io.ts) on the raw
// request: it answers a refused body's sender and then reads and drops the rest for a few
// seconds, so the sender sees the status rather than a reset (Hono's bodyLimit answers
// and leaves the unread body, which resets the connection).
import http from 'node:http';
import { getRequestListener, type HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono, type Context } from 'hono';
import { RevError } from '../../errors.js';
import { checkAppName } from '../../releases/paths.js';
import type { Started } from '../common/assembly.js';
import type { EventLog } from '../common/event-log.js';
import { hardenServer, type ConnectionLimits } from '../common/connection-limits.js';
import { closeServer, listen } from '../common/listen.js';
import { PAGE_PATHS, type PageLoader } from './page-loader.js';
import type { DeployQueue } from './queue.js';
import { receive, type ReceiverDeps } from './receiver.js';
import type { Scheduler } from './scheduler.js';

/** What one server answers: everything, webhooks only, or the page only. */
export type Serves = 'all' | 'hooks' | 'page';

export interface HttpParts {
  host: string;
  port: number;
  serves: Serves;
  readTimeoutMs: number;
  connections: ConnectionLimits;
  log: EventLog;
  receiver: ReceiverDeps;
  queue: DeployQueue;
  scheduler: Scheduler;
  page: PageLoader;
}

type Env = { Bindings: HttpBindings };

/** The path as sent (no decoding, no `..` folding), cut for the log. */
const rawPath = (c: Context<Env>) => (c.env.incoming.url ?? '/').split('?')[0].slice(0, 120);

const BAD_NAME = 'the path must be /hooks/<app>, with letters, digits, ".", "_" and "-" in the app name';

export function daemonApp(p: HttpParts): Hono<Env> {
  const { log } = p;
  const app = new Hono<Env>();
  if (p.serves !== 'page') {
    const refuseName = (c: Context<Env>) => {
      log('refused', { status: 400, reason: 'not a valid app name in the path', path: rawPath(c) });
      return c.json({ ok: false, outcome: 'refused', message: BAD_NAME }, 400);
    };
    // The URL Hono routes on has its `..` segments folded: `/hooks/../sample` must not reach another route.
    app.use('*', async (c, next) => {
      const raw = (c.env.incoming.url ?? '/').split('?')[0];
      if (raw.startsWith('/hooks/') && raw !== c.req.path) return refuseName(c);
      await next();
    });
    app.post('/hooks/*', async (c) => {
      const name = c.req.path.slice('/hooks/'.length);
      try {
        checkAppName(name);
      } catch {
        return refuseName(c);
      }
      await receive(c.env.incoming, c.env.outgoing, name, p.receiver);
      return RESPONSE_ALREADY_SENT;
    });
    app.all('/hooks/*', (c) => {
      log('refused', { status: 405, reason: `${c.req.method} is not a delivery`, path: rawPath(c) });
      c.header('allow', 'POST');
      return c.json({ ok: false, message: 'webhooks are delivered with POST' }, 405);
    });
  }
  app.get('/health', (c) => c.json({ ok: true, deploying: p.scheduler.active(), queued: p.queue.apps() }));
  if (p.serves !== 'hooks') {
    const toPage = async (c: Context<Env>) => (await p.page.load()).app.fetch(c.req.raw, c.env);
    for (const path of PAGE_PATHS) app.all(path, toPage);
  }
  const where =
    p.serves === 'hooks'
      ? 'this address takes webhooks at POST /hooks/<app>; the settings page listens on another (--page-host)'
      : p.serves === 'page'
        ? 'the settings page is at /; webhooks go to the other address'
        : 'webhooks go to POST /hooks/<app>, the settings page is at /';
  app.notFound((c) => {
    log('refused', { status: 404, reason: 'no such path', path: rawPath(c) });
    return c.json({ ok: false, message: `not found; ${where}` }, 404);
  });
  app.onError((err, c) => {
    log('error', { reason: err.message, path: rawPath(c) });
    if (c.env.outgoing.headersSent) return RESPONSE_ALREADY_SENT;
    return c.json({ ok: false, message: 'internal error; see the daemon log' }, 500);
  });
  return app;
}

/**
 * Listens; undone by closing the server while what it served stops: the page's live
 * streams, and (on the server taking webhooks) the scheduler's deploys.
 */
export async function serveHttp(p: HttpParts): Promise<Started<{ port: number; url: string }>> {
  // The receiver reads (or drops) its own bodies; nothing is left for the adapter to drain.
  const listener = getRequestListener(daemonApp(p).fetch, { autoCleanupIncoming: false });
  const server = http.createServer({ connectionsCheckingInterval: 1_000, headersTimeout: p.readTimeoutMs, requestTimeout: p.readTimeoutMs * 2 }, listener);
  hardenServer(server, p.connections, p.log);
  const bound = await listen(server, p.host, p.port).catch((err) => {
    // listen() names --port; the page's own server has its own flag.
    if (p.serves === 'page' && (err as RevError).code === 'PORT_IN_USE') throw new RevError('PORT_IN_USE', `Port ${p.port} on ${p.host} is already in use; pick another with --page-port.`);
    throw err;
  });
  return {
    value: bound,
    undo: async () => {
      const closed = closeServer(server, p.readTimeoutMs + 1_000);
      if (p.serves !== 'hooks') p.page.closeStreams();
      if (p.serves !== 'page') await p.scheduler.stop();
      await closed;
    },
  };
}
