// The daemon's HTTP servers: webhooks at POST /hooks/<app>, GET /health, and the settings
// page for every other path; or, with --page-host / --page-port, one server for webhooks
// (and /health) and one for the page (and /health), so the page can stay on loopback or
// the LAN while webhooks listen publicly. Stopping closes them while the running deploys
// stop: requests already inside get their answers, a client that stalls is cut off.
//
// The page is a Hono app (page/routes.ts), loaded with the page on its first visit. The
// webhook side stays this small router on node:http, for measured reasons: as a Hono app
// behind @hono/node-server it cost 4.8 MB more idle RSS on Node (53.2 -> 58.0 MB; the
// adapter's Request subclass loads Node's fetch at start) and 1.8 MB on Bun, against the
// 5% allowed, with start-up 80 ms slower on Bun (`node dist/bench/serve-ab.js`, see
// docs/pending/web.md). hardenServer (connection-limits.ts) needs the node:http server
// either way, and the receiver reads its own bodies (common/http-io.ts) so that a refused
// sender reads its answer rather than a reset, which Hono's bodyLimit does not do.
import http from 'node:http';
import { RevError } from '../../errors.js';
import { checkAppName } from '../../releases/paths.js';
import type { Started } from '../common/assembly.js';
import type { EventLog } from '../common/event-log.js';
import { reply } from '../common/http-io.js';
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

function routes(p: HttpParts): http.RequestListener {
  const { log } = p;
  const failed = (req: http.IncomingMessage, res: http.ServerResponse, fields: Record<string, string>) => (err: unknown) => {
    log('error', { ...fields, reason: (err as Error).message });
    if (!res.headersSent) reply(req, res, { status: 500 }, { ok: false, message: 'internal error; see the daemon log' });
  };
  const notFound = (req: http.IncomingMessage, res: http.ServerResponse, url: string, where: string) => {
    log('refused', { status: 404, reason: 'no such path', path: url.slice(0, 120) });
    reply(req, res, { status: 404 }, { ok: false, message: `not found; ${where}` });
  };
  return (req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url.startsWith('/hooks/') && p.serves !== 'page') {
      if (req.method !== 'POST') {
        log('refused', { status: 405, reason: `${req.method} is not a delivery`, path: url.slice(0, 120) });
        return reply(req, res, { status: 405, headers: { allow: 'POST' } }, { ok: false, message: 'webhooks are delivered with POST' });
      }
      const app = url.slice('/hooks/'.length);
      try {
        checkAppName(app);
      } catch {
        log('refused', { status: 400, reason: 'not a valid app name in the path', path: url.slice(0, 120) });
        return reply(req, res, { status: 400 }, { ok: false, outcome: 'refused', message: 'the path must be /hooks/<app>, with letters, digits, ".", "_" and "-" in the app name' });
      }
      return void receive(req, res, app, p.receiver).catch(failed(req, res, { app }));
    }
    if (url === '/health' && (req.method === 'GET' || req.method === 'HEAD')) return reply(req, res, { status: 200 }, { ok: true, deploying: p.scheduler.active(), queued: p.queue.apps() });
    if (p.serves === 'hooks' || !isPagePath(url)) return notFound(req, res, url, notHere(p.serves));
    void p.page
      .load()
      .then((page) => page.listener(req, res))
      .catch(failed(req, res, {}));
  };
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
  const server = http.createServer({ connectionsCheckingInterval: 1_000, headersTimeout: p.readTimeoutMs, requestTimeout: p.readTimeoutMs * 2 }, routes(p));
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
