// The daemon's HTTP servers: webhooks at POST /hooks/<app>, GET /health, and the settings
// page for every other path; or, with --page-host / --page-port, one server for webhooks
// (and /health) and one for the page (and /health), so the page can stay on loopback or
// the LAN while webhooks listen publicly. Stopping closes them while the running deploys
// stop: requests already inside get their answers, a client that stalls is cut off.
//
// The webhook side is one Hono app (common/hono-http.ts says how it sits on node:http); the
// page is another (page/routes.ts), loaded with the page on its first visit and handed the
// requests for its paths. The receiver reads its own bodies (common/http-io.ts) rather than
// through Hono's bodyLimit, so that a refused sender reads its answer rather than a reset.
import http from 'node:http';
import type { Hono } from 'hono';
import { RevError } from '../../errors.js';
import { checkAppName } from '../../releases/paths.js';
import type { Started } from '../common/assembly.js';
import type { EventLog } from '../common/event-log.js';
import { answer, handOver, httpApp, nodeListener, rawPath, type HttpEnv } from '../common/hono-http.js';
import { hardenServer, type ConnectionLimits } from '../common/connection-limits.js';
import { closeServer, listen } from '../common/listen.js';
import { isPagePath, type PageLoader } from './page-loader.js';
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

function routes(p: HttpParts): Hono<HttpEnv> {
  const { log } = p;
  const app = httpApp();
  if (p.serves !== 'page') {
    // The rest of the path, slashes included, is the app's name: a nested path is a bad name (400), not a 404.
    app.all('/hooks/:app{.*}', (c) => {
      const path = rawPath(c.env.incoming).slice(0, 120);
      if (c.req.method !== 'POST') {
        log('refused', { status: 405, reason: `${c.env.incoming.method} is not a delivery`, path });
        return answer(c, { status: 405, headers: { allow: 'POST' } }, { ok: false, message: 'webhooks are delivered with POST' });
      }
      const name = c.req.param('app');
      try {
        checkAppName(name);
      } catch {
        log('refused', { status: 400, reason: 'not a valid app name in the path', path });
        return answer(c, { status: 400 }, { ok: false, outcome: 'refused', message: 'the path must be /hooks/<app>, with letters, digits, ".", "_" and "-" in the app name' });
      }
      return receive(c, name, p.receiver);
    });
  }
  // GET routes answer HEAD too.
  app.get('/health', (c) => answer(c, { status: 200 }, { ok: true, deploying: p.scheduler.active(), queued: p.queue.apps() }));
  app.notFound(async (c) => {
    const url = rawPath(c.env.incoming);
    if (p.serves !== 'hooks' && isPagePath(url)) return handOver(c, (await p.page.load()).listener);
    log('refused', { status: 404, reason: 'no such path', path: url.slice(0, 120) });
    return answer(c, { status: 404 }, { ok: false, message: `not found; ${notHere(p.serves)}` });
  });
  app.onError((err, c) => {
    log('error', { app: c.req.param('app'), reason: err.message });
    return answer(c, { status: 500 }, { ok: false, message: 'internal error; see the daemon log' });
  });
  return app;
}

function notHere(serves: Serves): string {
  if (serves === 'hooks') return 'this address takes webhooks at POST /hooks/<app>; the settings page listens on another (--page-host)';
  return serves === 'page' ? 'the settings page is at /; webhooks go to the other address' : 'webhooks go to POST /hooks/<app>, the settings page is at /';
}

/**
 * Listens; undone by closing the server while what it served stops: the page's live
 * streams, and (on the server taking webhooks) the scheduler's deploys.
 */
export async function serveHttp(p: HttpParts): Promise<Started<{ port: number; url: string }>> {
  const server = http.createServer({ connectionsCheckingInterval: 1_000, headersTimeout: p.readTimeoutMs, requestTimeout: p.readTimeoutMs * 2 }, nodeListener(routes(p)));
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
