// `toes serve`: the webhook receiver and the deploy queue in one long-running process.
// Starting is a short list of steps (lock, queue, watch, listen, announce, resume) and
// stopping undoes them in reverse; the CLI command only parses flags and wires signals.
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RevError } from '../../errors.js';
import { writeJsonDurable } from '../../releases/durable.js';
import { acquireLock, type Lock, type LockOwner } from '../../releases/lock.js';
import { checkAppName, type Layout } from '../../releases/paths.js';
import { AppHooksCache } from './app-hooks.js';
import { DeliveryLog } from './deliveries.js';
import { eventLog } from '../shared/event-log.js';
import { DeployQueue } from './queue.js';
import { reply } from '../shared/http-io.js';
import { MAX_BODY, receive, receiveDelivery, type ReceiverDeps } from './receiver.js';
import type { RelayClient } from './relay-link/client.js';
import { readInstance, relayUrl } from './relay-link/instance.js';
import { rollbackInWorker, workerRunner } from './runner.js';
import { Scheduler, type DeployRunner } from './scheduler.js';

export interface DaemonOptions {
  layout: Layout;
  host: string;
  port: number;
  /** Where the event log goes (one line per event). */
  out: NodeJS.WritableStream;
  /** Where deploy workers' own messages go. */
  err: NodeJS.WritableStream;
  json?: boolean;
  /** Deploys of different apps that may run at once. */
  jobs?: number;
  readTimeoutMs?: number;
  maxBody?: number;
  runner?: DeployRunner;
  /** Seconds between pings on the relay link (default 20). */
  relayHeartbeatMs?: number;
}

export interface ServeInfo {
  pid: number;
  host: string;
  port: number;
  url: string;
  startedAt: string;
}

export interface Daemon {
  info: ServeInfo;
  stop(): Promise<void>;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

async function takeServeLock(layout: Layout): Promise<Lock> {
  try {
    return await acquireLock(layout.serveLock, { command: 'toes serve', waitMs: 0 });
  } catch (err) {
    const holder = (err as RevError).data?.holder as LockOwner | undefined;
    throw new RevError('LOCKED', `Another toes serve (pid ${holder?.pid ?? '?'}) is already running for ${layout.roots.dataDir}; stop it first, or give this one another DATA_DIR.`);
  }
}

function listen(server: http.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new RevError('PORT_IN_USE', `Port ${port} on ${host} is already in use; pick another with --port.`));
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') reject(new RevError('USAGE', `Cannot listen on ${host}: no such address here; use --host 127.0.0.1 or 0.0.0.0.`));
      else if (err.code === 'EACCES') reject(new RevError('USAGE', `Not allowed to listen on port ${port}; use a port above 1023.`));
      else reject(err);
    });
    server.listen(port, host, () => resolve());
  });
}


export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const { layout } = o;
  const log = eventLog(o.out, !!o.json);
  const readTimeoutMs = o.readTimeoutMs ?? 10_000;

  // 1. One daemon per DATA_DIR: two would consume one queue twice.
  const lock = await takeServeLock(layout);
  const undo: (() => Promise<unknown>)[] = [() => lock.release()];
  const unwind = async () => {
    for (const u of undo.reverse()) await u().catch(() => {});
  };
  try {
    // 2. The durable queue, with whatever a previous run left in it.
    const queue = await DeployQueue.open(layout.queueFile);
    undo.push(() => queue.close());
    const deliveries = new DeliveryLog(layout);
    undo.push(() => deliveries.flush());

    // 3. Follow the CLI's changes to webhooks and settings (and the relay identity).
    let relayChanged = () => {};
    const hooks = new AppHooksCache(layout, () => relayChanged());
    await hooks.watch();
    undo.push(() => hooks.close());

    const scheduler = new Scheduler(queue, o.runner ?? workerRunner(layout, o.err), log, deliveries, o.jobs ?? 2);
    const deps: ReceiverDeps = {
      lookup: (app) => hooks.lookup(app),
      queue,
      deliveries,
      log,
      kick: (app) => scheduler.kick(app),
      nowS: () => Math.floor(Date.now() / 1000),
      maxBody: o.maxBody ?? MAX_BODY,
      readTimeoutMs,
    };

    // The settings page, on the same server; loaded on its first visit, so a daemon that
    // only takes webhooks stays small.
    type PageRouter = ReturnType<typeof import('../page/routes.js').pageRouter>;
    let page: Promise<PageRouter> | undefined;
    let pageLoaded: PageRouter | undefined;
    const loadPage = () =>
      (page ??= import('../page/routes.js').then(({ allowFraming, pageRouter }) => {
        allowFraming(layout.roots.toesUrl);
        pageLoaded = pageRouter({
          layout,
          log,
          isDeploying: (app) => scheduler.active().includes(app) || !!queue.peek(app),
          async deployNow(app) {
            if (scheduler.active().includes(app) || queue.peek(app)) return false;
            await queue.offer({ app, id: `page-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`, format: 'page', receivedAt: new Date().toISOString() });
            scheduler.kick(app);
            return true;
          },
          rollback: (app, release) => rollbackInWorker(layout, app, release),
        });
        return pageLoaded;
      }));

    // 4. Listen.
    const server = http.createServer({ connectionsCheckingInterval: 1_000, headersTimeout: readTimeoutMs, requestTimeout: readTimeoutMs * 2 }, (req, res) => {
      const url = (req.url ?? '/').split('?')[0];
      if (url.startsWith('/hooks/')) {
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
        return void receive(req, res, app, deps).catch((err) => {
          log('error', { app, reason: (err as Error).message });
          if (!res.headersSent) reply(req, res, { status: 500 }, { ok: false, message: 'internal error; see the daemon log' });
        });
      }
      if (url === '/health' && (req.method === 'GET' || req.method === 'HEAD')) return reply(req, res, { status: 200 }, { ok: true, deploying: scheduler.active(), queued: queue.apps() });
      void loadPage()
        .then((p) => p.handle(req, res))
        .then((handled) => {
          if (handled) return;
          log('refused', { status: 404, reason: 'no such path', path: url.slice(0, 120) });
          reply(req, res, { status: 404 }, { ok: false, message: 'not found; webhooks go to POST /hooks/<app>, the settings page is at /' });
        })
        .catch((err) => {
          log('error', { reason: (err as Error).message });
          if (!res.headersSent) reply(req, res, { status: 500 }, { ok: false, message: 'internal error; see the daemon log' });
        });
    });
    await listen(server, o.host, o.port);
    const stopServer = async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      pageLoaded?.closeStreams();
      server.closeIdleConnections();
      // Requests already inside get their answers; a client that stalls is cut off.
      const timer = setTimeout(() => server.closeAllConnections(), readTimeoutMs + 1_000);
      await closed;
      clearTimeout(timer);
    };

    // 5. Say where we are, for `toes webhook status` and people.
    const { port } = server.address() as AddressInfo;
    const info: ServeInfo = { pid: process.pid, host: o.host, port, url: `http://${urlHost(o.host)}:${port}`, startedAt: new Date().toISOString() };
    await writeJsonDurable(layout.serveFile, info, { compact: true, mode: 0o644 });
    undo.push(() => fs.rm(layout.serveFile, { force: true }));
    log('listening', { url: info.url, pid: process.pid, data: layout.roots.dataDir });

    // 6. Hold the link to the relay, when this server is registered with the configured one.
    let link: { client: RelayClient; key: string } | undefined;
    let refreshing = Promise.resolve();
    const refreshRelay = () =>
      (refreshing = refreshing.then(async () => {
        let want: string | undefined;
        let inst;
        try {
          want = await relayUrl(layout);
          inst = want ? await readInstance(layout) : undefined;
        } catch (err) {
          log('relay-config', { reason: (err as Error).message });
        }
        const key = inst && inst.relay === want ? `${inst.relay} ${inst.id} ${inst.secret}` : '';
        if (key === (link?.key ?? '')) return;
        await link?.client.stop();
        link = undefined;
        if (!key || !inst) return;
        // Loaded only when a relay is used: the WebSocket library costs ~10 MB of memory.
        const { RelayClient } = await import('./relay-link/client.js');
        const client = new RelayClient({ instance: inst, log, handle: (d) => receiveDelivery(d, deps), stateFile: layout.relayLinkFile, heartbeatMs: o.relayHeartbeatMs });
        link = { client, key };
        log('relay-connecting', { relay: inst.relay, instance: inst.id });
        client.start();
      }));
    relayChanged = () => void refreshRelay();
    await refreshRelay();
    undo.push(async () => {
      relayChanged = () => {};
      await refreshing;
      await link?.client.stop();
    });

    // 7. Resume deploys that were queued when the last run stopped or crashed.
    for (const app of queue.apps()) {
      log('resumed', { app, id: queue.peek(app)?.id });
      scheduler.kick(app);
    }

    let stopping: Promise<void> | undefined;
    return {
      info,
      stop() {
        stopping ??= (async () => {
          log('stopping', { deploying: scheduler.active().join(',') || undefined });
          const served = stopServer();
          await scheduler.stop();
          await served;
          await unwind();
          log('stopped');
          log.flush();
        })();
        return stopping;
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}

/** Where a running daemon listens, or undefined when none runs for this DATA_DIR. */
export async function runningDaemon(layout: Layout): Promise<ServeInfo | undefined> {
  try {
    const info = JSON.parse(await fs.readFile(layout.serveFile, 'utf8')) as ServeInfo;
    process.kill(info.pid, 0);
    return info;
  } catch {
    return undefined;
  }
}
