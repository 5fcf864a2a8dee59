// `toes serve`: the webhook receiver, the deploy queue, the settings page and the relay
// link in one long-running process. Starting is the list of parts in `startDaemon`;
// stopping undoes them in reverse. The CLI command only parses flags and wires signals.
import { RevError } from '../../errors.js';
import { acquireLock, type LockOwner } from '../../releases/lock.js';
import type { Layout } from '../../releases/paths.js';
import { newLoginLink } from '../page/login-link.js';
import { DaemonNotices } from '../notify/daemon-notices.js';
import { Assembly, type Started } from '../common/assembly.js';
import { connectionLimits } from '../common/connection-limits.js';
import { eventLog, type EventLog } from '../common/event-log.js';
import { AppHooksCache } from './app-hooks.js';
import { DeliveryLog } from './deliveries.js';
import { serveHttp } from './http.js';
import { pageLoader } from './page-loader.js';
import { DeployQueue } from './queue.js';
import { MAX_BODY, receiveDelivery, type ReceiverDeps } from './receiver.js';
import { RelayLink } from './relay-link/link.js';
import { workerRunner } from './runner.js';
import { Scheduler, type DeployRunner } from './scheduler.js';
import { announce, DEFAULT_PAGE_PORT, type ServeInfo } from './serve-info.js';

export interface DaemonOptions {
  layout: Layout;
  host: string;
  port: number;
  /** The settings page on its own address (either one given splits it off; the other defaults to `host` and 7422). */
  pageHost?: string;
  pagePort?: number;
  /** Where the event log goes (one line per event). */
  out: NodeJS.WritableStream;
  /** Where deploy workers' own messages go. */
  err: NodeJS.WritableStream;
  /** A person's terminal, if the daemon has one: the start-up login link goes there only. */
  terminal?: NodeJS.WritableStream;
  json?: boolean;
  /** Deploys of different apps that may run at once. */
  jobs?: number;
  readTimeoutMs?: number;
  /** Open connections at most (default 512, less under a low open-file limit). */
  maxConnections?: number;
  /** A connection that sends no request for this long is closed (default 5 s). */
  idleTimeoutMs?: number;
  maxBody?: number;
  runner?: DeployRunner;
  /** Seconds between pings on the relay link (default 20). */
  relayHeartbeatMs?: number;
}

export interface Daemon {
  info: ServeInfo;
  stop(): Promise<void>;
}

export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const { layout } = o;
  const log = eventLog(o.out, !!o.json);
  const readTimeoutMs = o.readTimeoutMs ?? 10_000;
  const parts = new Assembly();
  try {
    await parts.add('serve lock', () => serveLock(layout));
    const { queue, deliveries } = await parts.add('queue', () => openQueue(layout));
    const notices = await parts.add('notify', () => startNotices(layout, log));
    deliveries.onRefused = (app, d) => notices.refused(app, d);
    const scheduler = new Scheduler(queue, o.runner ?? workerRunner(layout, o.err), log, deliveries, o.jobs ?? 2, notices);
    const relay = new RelayLink(layout, log, o.relayHeartbeatMs, (waiting) => scheduler.backlog(waiting));
    const hooks = await parts.add('watch', () => watchSettings(layout, () => void relay.refresh()));
    const receiver: ReceiverDeps = {
      lookup: (app) => hooks.lookup(app),
      queue,
      deliveries,
      log,
      kick: (app) => scheduler.kick(app),
      nowS: () => Math.floor(Date.now() / 1000),
      maxBody: o.maxBody ?? MAX_BODY,
      readTimeoutMs,
    };
    const page = pageLoader(layout, log, queue, scheduler, notices);
    const http = { readTimeoutMs, connections: connectionLimits(o, readTimeoutMs, 512), log, receiver, queue, scheduler, page };
    const split = o.pageHost !== undefined || o.pagePort !== undefined;
    const bound = await parts.add('listen', () => serveHttp({ ...http, host: o.host, port: o.port, serves: split ? 'hooks' : 'all' }));
    const pageBound = split ? await parts.add('listen (page)', () => serveHttp({ ...http, host: o.pageHost ?? o.host, port: o.pagePort ?? DEFAULT_PAGE_PORT, serves: 'page' })) : bound;
    const info = await parts.add('serve.json', () => announce(layout, o.host, bound, pageBound));
    log('listening', { url: info.url, page: split ? info.pageUrl : undefined, pid: process.pid, data: layout.roots.dataDir });
    await printLoginLink(layout, info, log, o.terminal);
    await parts.add('relay link', () => relay.start((d) => receiveDelivery(d, receiver)));
    resume(queue, scheduler, log);

    let stopping: Promise<void> | undefined;
    return {
      info,
      stop() {
        stopping ??= (async () => {
          log('stopping', { deploying: scheduler.active().join(',') || undefined });
          await parts.undo();
          log('stopped');
          log.flush();
        })();
        return stopping;
      },
    };
  } catch (err) {
    await parts.undo();
    throw err;
  }
}

/** One daemon per DATA_DIR: two would consume one queue twice. */
async function serveLock(layout: Layout): Promise<Started<void>> {
  try {
    const lock = await acquireLock(layout.serveLock, { command: 'toes serve', waitMs: 0 });
    return { value: undefined, undo: () => lock.release() };
  } catch (err) {
    const holder = (err as RevError).data?.holder as LockOwner | undefined;
    throw new RevError('LOCKED', `Another toes serve (pid ${holder?.pid ?? '?'}) is already running for ${layout.roots.dataDir}; stop it first, or give this one another DATA_DIR.`);
  }
}

/** The durable queue, with whatever a previous run left in it, and the delivery log beside it. */
async function openQueue(layout: Layout): Promise<Started<{ queue: DeployQueue; deliveries: DeliveryLog }>> {
  const queue = await DeployQueue.open(layout.queueFile);
  const deliveries = new DeliveryLog(layout);
  return {
    value: { queue, deliveries },
    undo: async () => {
      await deliveries.flush();
      await queue.close();
    },
  };
}

/** Commit statuses and deploy events: the outbox's sender runs as long as the daemon, from whatever was left in it. */
async function startNotices(layout: Layout, log: EventLog): Promise<Started<DaemonNotices>> {
  const notices = new DaemonNotices(layout, log);
  const running = notices.sender.run();
  return {
    value: notices,
    undo: async () => {
      await notices.sender.stop();
      await running;
    },
  };
}

/** Follows the CLI's changes to webhooks and settings (and the relay identity). */
async function watchSettings(layout: Layout, relayChanged: () => void): Promise<Started<AppHooksCache>> {
  const hooks = new AppHooksCache(layout, relayChanged);
  await hooks.watch();
  return { value: hooks, undo: () => hooks.close() };
}

/**
 * A login link for whoever started the daemon at a terminal, as Jupyter prints its token.
 * Never into the event log: journald keeps that, and a log must hold no secret. Without a
 * terminal the log says how to get one (`toes page`).
 */
async function printLoginLink(layout: Layout, info: ServeInfo, log: EventLog, terminal?: NodeJS.WritableStream): Promise<void> {
  log('login', { page: info.pageUrl, note: 'run `toes page` for a login link' });
  if (!terminal) return;
  try {
    const link = await newLoginLink(layout, info.pageUrl);
    terminal.write(`toes serve: log in to the settings page: ${link.url}\n  (works once, for 15 minutes; \`toes page\` prints another)\n`);
  } catch (err) {
    log('error', { reason: `no login link for the settings page (${(err as Error).message}); run \`toes page\`` });
  }
}

/** Deploys that were queued when the last run stopped or crashed start again. */
function resume(queue: DeployQueue, scheduler: Scheduler, log: EventLog): void {
  for (const app of queue.apps()) {
    log('resumed', { app, id: queue.peek(app)?.id });
    scheduler.kick(app);
  }
}
