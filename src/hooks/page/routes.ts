// The settings page's routes on `toes serve`: GET pages, a live stream per app, and a few
// POST actions. Actions accept only same-origin JSON requests carrying `x-toes-page`
// (a cross-site form or fetch cannot), and only for a Host this machine answers to, so a
// page elsewhere cannot drive them, not even through DNS rebinding. Nothing secret is ever
// rendered: the signing secret never, the token only as a masked tail.
import os from 'node:os';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RevError } from '../../errors.js';
import { checkAppName, type Layout } from '../../releases/paths.js';
import type { OpResult } from '../../activate/result.js';
import { globalSettings, updateJson } from '../../releases/settings.js';
import type { EventLog } from '../shared/event-log.js';
import { readBody } from '../shared/http-io.js';
import { setWebhook } from '../serve/webhook-state.js';
import { ensureInstance, relayUrl } from '../serve/relay-link/instance.js';
import { PAGE_CSS, PAGE_JS } from './client.js';
import { appExists, appPageState, listApps, readLogFrom, type AppPageState } from './state.js';
import { appPage, errorPage, indexPage, logSection, releasesSection, webhookSection } from './views.js';

export interface PageDeps {
  layout: Layout;
  log: EventLog;
  /** Queues a deploy of the app; false when one is already running or waiting. */
  deployNow(app: string): Promise<boolean>;
  isDeploying(app: string): boolean;
  rollback(app: string, release: string): Promise<OpResult>;
}

/** Who may frame the page: itself, the Toes dashboard (TOES_URL) and this machine's names. */
let frameAncestors = "'self' http://localhost:* http://127.0.0.1:* http://*.local:* https://*.local:*";
export function allowFraming(toesUrl?: string): void {
  try {
    if (toesUrl) frameAncestors += ` ${new URL(toesUrl).origin}`;
  } catch {}
}

function send(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    // The Toes dashboard shows the page in an iframe; nothing else needs to frame it.
    'content-security-policy': `default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors ${frameAncestors}`,
    ...extra,
  });
  res.end(body);
}

const json = (res: ServerResponse, status: number, value: object) => send(res, status, 'application/json', JSON.stringify(value));

/**
 * The page has no login: it is for this machine and its home network. Peers on the
 * internet (a port forwarded for webhooks, say) get webhooks only, not the page.
 */
export function localPeer(addr: string | undefined): boolean {
  const a = (addr ?? '').replace(/^::ffff:/, '');
  if (a === '::1' || a.startsWith('127.')) return true;
  if (/^10\./.test(a) || /^192\.168\./.test(a) || /^172\.(1[6-9]|2\d|3[01])\./.test(a) || /^169\.254\./.test(a)) return true;
  return /^f[cd][0-9a-f]{2}:/i.test(a) || /^fe80:/i.test(a);
}

/** Hosts this daemon answers the page for: names of this machine and IP literals. */
function hostAllowed(host: string | undefined, extra: string[]): boolean {
  if (!host) return false;
  const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
  const me = os.hostname().toLowerCase();
  return (
    name === 'localhost' ||
    /^[\d.]+$/.test(name) ||
    name.includes(':') ||
    name === me ||
    name === `${me}.local` ||
    name.endsWith('.local') ||
    extra.includes(name)
  );
}

/** The HTTP status a rollback's result is answered with. */
function rollbackStatus(r: OpResult): number {
  if (r.ok) return 200;
  return r.error?.code === 'LOCKED' ? 409 : r.error?.code === 'RELEASE_NOT_FOUND' ? 404 : 422;
}

/** What the page's notice says about a rollback. */
function rollbackSentence(r: OpResult): string {
  return r.ok ? `${r.app} is live at ${r.release} again.` : (r.error?.message ?? 'the rollback failed');
}

export function pageRouter(deps: PageDeps) {
  const { layout } = deps;
  const streams = new Set<{ res: ServerResponse; stop(): void }>();
  let extraHosts: string[] = [];
  const refreshHosts = async () => {
    const u = (await globalSettings(layout).catch(() => undefined))?.webhookUrl;
    try {
      extraHosts = u ? [new URL(u).hostname.toLowerCase()] : [];
    } catch {
      extraHosts = [];
    }
  };

  async function state(app: string): Promise<AppPageState> {
    return appPageState(layout, app, deps.isDeploying(app));
  }

  async function indexRows() {
    const rows = [];
    for (const app of await listApps(layout)) {
      try {
        const s = await state(app);
        const live = s.releases.find((r) => r.live);
        rows.push({ app, live: live?.id, version: live?.commit ?? live?.version, status: s.hook.lastDeploy?.status, at: s.hook.lastDeploy?.at, webhooks: s.hook.enabled });
      } catch {
        rows.push({ app, webhooks: false });
      }
    }
    return rows;
  }

  /** A live stream of an app's page: changed sections as HTML, deploy log text as it grows. */
  function events(req: IncomingMessage, res: ServerResponse, app: string): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write('retry: 1000\n\n');
    let last = { webhooks: '', releases: '', logHead: '' };
    /** Bytes of the shown deploy log already on the page. */
    let logSent = 0;
    let busy = false;
    const write = (text: string) => {
      if (!res.writableEnded && !res.destroyed) res.write(text);
    };
    const tick = async () => {
      if (busy) return;
      busy = true;
      try {
        const s = await state(app);
        const sections: Record<string, string> = {};
        const w = webhookSection(s).text;
        const r = releasesSection(s).text;
        if (w !== last.webhooks) sections.webhooks = w;
        if (r !== last.releases) sections.releases = r;
        const logHead = `${s.log?.release}:${s.log?.running}`;
        if (logHead !== last.logHead) {
          sections.log = logSection(s).text;
          logSent = s.log?.size ?? 0;
        } else if (s.log && s.log.size > logSent) {
          // Read on from where the page is, however long the log has grown.
          write(`event: log\ndata: ${JSON.stringify(await readLogFrom(layout, app, s.log.release, logSent, s.log.size))}\n\n`);
          logSent = s.log.size;
        }
        last = { webhooks: w, releases: r, logHead };
        if (Object.keys(sections).length) write(`event: sections\ndata: ${JSON.stringify(sections)}\n\n`);
      } catch {
        // the app's files are changing under us; the next tick sees them settled
      } finally {
        busy = false;
      }
    };
    void tick();
    const timer = setInterval(tick, 300);
    const stream = { res, stop: () => clearInterval(timer) };
    streams.add(stream);
    req.on('close', () => {
      stream.stop();
      streams.delete(stream);
    });
  }

  async function action(req: IncomingMessage, res: ServerResponse, app: string, what: string): Promise<void> {
    const read = await readBody(req, 16 * 1024, 10_000);
    if ('refuse' in read) return json(res, read.refuse.status, { ok: false, message: read.refuse.message });
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(read.body.toString('utf8') || '{}');
      if (!body || typeof body !== 'object') throw new Error();
    } catch {
      return json(res, 400, { ok: false, message: 'the request body must be a JSON object' });
    }
    switch (what) {
      case 'webhook': {
        if (typeof body.enabled !== 'boolean') return json(res, 400, { ok: false, message: 'enabled must be true or false' });
        await setWebhook(layout, app, { enabled: body.enabled });
        let note = '';
        if (body.enabled) {
          const relay = await relayUrl(layout).catch(() => undefined);
          if (relay) await ensureInstance(layout, relay).catch((err) => (note = ` (${(err as Error).message})`));
        }
        deps.log('page', { app, action: body.enabled ? 'webhook-enabled' : 'webhook-disabled' });
        return json(res, 200, { ok: true, message: `Webhooks ${body.enabled ? 'enabled' : 'disabled'} for ${app}.${note}` });
      }
      case 'token': {
        if (body.clear === true) {
          await updateJson(layout.appEnv(app), (v) => void delete v.REV_TOKEN);
          deps.log('page', { app, action: 'token-cleared' });
          return json(res, 200, { ok: true, message: 'Token cleared.' });
        }
        const token = body.token;
        if (typeof token !== 'string' || token.length === 0 || token.length > 4096 || /\s/.test(token)) {
          return json(res, 400, { ok: false, message: 'A token cannot be empty or contain spaces or line breaks; paste the token alone.' });
        }
        await updateJson(layout.appEnv(app), (v) => void (v.REV_TOKEN = token));
        deps.log('page', { app, action: 'token-set' });
        return json(res, 200, { ok: true, message: 'Token saved.' });
      }
      case 'deploy': {
        const queued = await deps.deployNow(app);
        deps.log('page', { app, action: queued ? 'deploy' : 'deploy-refused' });
        return queued ? json(res, 202, { ok: true, message: `Deploying ${app}: the newest commit of its branch.` }) : json(res, 409, { ok: false, message: `A deploy of ${app} is already running; it takes the newest commit, so there is nothing to add.` });
      }
      case 'rollback': {
        if (typeof body.release !== 'string' || !/^[\w.-]{1,100}$/.test(body.release)) return json(res, 400, { ok: false, message: 'release must name a release' });
        const r = await deps.rollback(app, body.release);
        deps.log('page', { app, action: 'rollback', release: body.release, ok: r.ok });
        return json(res, rollbackStatus(r), { ok: r.ok, message: rollbackSentence(r) });
      }
      default:
        return json(res, 404, { ok: false, message: 'no such action' });
    }
  }

  /** Ends the live streams (at shutdown: the pages reconnect to the next daemon). */
  const closeStreams = () => {
    for (const s of streams) {
      s.stop();
      s.res.end();
    }
    streams.clear();
  };

  /** Handles the request if it is the page's; false otherwise. */
  const handle = async function handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const u = new URL(req.url ?? '/', 'http://x');
    const p = u.pathname;
    if (p === '/assets/page.js') return send(res, 200, 'text/javascript; charset=utf-8', PAGE_JS), true;
    if (p === '/assets/page.css') return send(res, 200, 'text/css; charset=utf-8', PAGE_CSS), true;
    if (p !== '/' && !p.startsWith('/apps/')) return false;
    if (!localPeer(req.socket.remoteAddress)) {
      deps.log('refused', { status: 403, reason: 'page asked for from outside the local network', from: req.socket.remoteAddress });
      send(res, 403, 'text/plain', 'The settings page is for this machine and its local network only.');
      return true;
    }
    await refreshHosts();
    if (!hostAllowed(req.headers.host, extraHosts)) {
      deps.log('refused', { status: 403, reason: 'page asked for by an unknown host name', path: p.slice(0, 80) });
      send(res, 403, 'text/plain', 'This page answers only to the names of this machine.');
      return true;
    }
    const parts = p.split('/').filter(Boolean); // ['apps', app, action?]
    let app = parts[1] ?? (p === '/' ? u.searchParams.get('app') ?? undefined : undefined);
    if (p === '/' && !app) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'GET only'), true;
      send(res, 200, 'text/html; charset=utf-8', indexPage(await indexRows()));
      return true;
    }
    try {
      app = checkAppName(decodeURIComponent(app ?? ''));
    } catch {
      send(res, 400, 'text/html; charset=utf-8', errorPage(400, 'That is not an app name: letters, digits, ".", "_" and "-" only.'));
      return true;
    }
    if (!(await appExists(layout, app))) {
      send(res, 404, 'text/html; charset=utf-8', errorPage(404, `There is no app called ${app} here.`));
      return true;
    }
    const sub = parts[2];
    if (req.method === 'GET' && !sub) return send(res, 200, 'text/html; charset=utf-8', appPage(await state(app))), true;
    if (req.method === 'GET' && sub === 'events' && parts.length === 3) return events(req, res, app), true;
    if (req.method === 'GET' && sub === 'state' && parts.length === 3) return json(res, 200, await state(app)), true;
    if (req.method === 'POST' && sub && parts.length === 3) {
      const origin = req.headers.origin;
      const sameOrigin = !origin || origin === `http://${req.headers.host}` || origin === `https://${req.headers.host}`;
      if (req.headers['x-toes-page'] !== '1' || !String(req.headers['content-type'] ?? '').startsWith('application/json') || !sameOrigin) {
        deps.log('refused', { app, status: 403, reason: 'a page action without the page\'s headers or from another origin' });
        json(res, 403, { ok: false, message: 'Actions are accepted only from this page.' });
        return true;
      }
      try {
        await action(req, res, app, sub);
      } catch (err) {
        const e = err instanceof RevError ? err : undefined;
        json(res, 500, { ok: false, message: e?.message ?? 'Something went wrong; see the daemon log.' });
        if (!e) deps.log('error', { app, reason: (err as Error).message });
      }
      return true;
    }
    json(res, 404, { ok: false, message: 'not found' });
    return true;
  };
  return { handle, closeStreams };
}
