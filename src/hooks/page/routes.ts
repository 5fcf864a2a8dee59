// The settings page's routes on `toes serve`: GET pages, a live stream per app, and a few
// POST actions, all behind a login (login.ts): a session cookie from a one-time link. Around
// it, defences that were the page's only ones before: peers on the local network only, a
// Host this machine answers to (no DNS rebinding), and actions only as same-origin JSON
// with `x-toes-page` (no cross-site forms). Nothing secret is ever rendered: the signing
// secret never, the token only as a masked tail.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RevError } from '../../errors.js';
import { checkAppName } from '../../releases/paths.js';
import { globalSettings } from '../../releases/settings.js';
import { pageAction } from './actions.js';
import { assetAt } from './assets.js';
import type { PageDeps } from './deps.js';
import { fromThePage, hostAllowed, localPeer } from './guard.js';
import { admit, loginBudget, loginRoute } from './login.js';
import { json, send } from './respond.js';
import { appExists, appPageState, deployLog, listApps, type AppPageState } from './state.js';
import { LiveStreams } from './stream.js';
import { appPage, errorPage, indexPage } from './views.js';

export { allowFraming } from './respond.js';

export function pageRouter(deps: PageDeps) {
  const { layout } = deps;
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

  const streams = new LiveStreams(layout, state);
  const logins = loginBudget();

  /** Ends the live streams (at shutdown: the pages reconnect to the next daemon). */
  const closeStreams = () => streams.closeAll();

  /** Handles the request if it is the page's; false otherwise. */
  const handle = async function handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const u = new URL(req.url ?? '/', 'http://x');
    const p = u.pathname;
    const asset = p.startsWith('/assets/') ? assetAt(p) : undefined;
    // Its name changes with its content: a browser may keep it for good.
    if (asset) return send(res, 200, asset.type, asset.body, { 'cache-control': 'public, max-age=31536000, immutable' }), true;
    const login = p === '/login' || p === '/login/session';
    if (p !== '/' && !p.startsWith('/apps/') && !login) return false;
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
    if (login) return loginRoute(deps, req, res, p, logins);
    const parts = p.split('/').filter(Boolean); // ['apps', app, action?]
    const forPeople = (req.method === 'GET' || req.method === 'HEAD') && parts.length <= 2;
    if (!(await admit(deps, req, res, forPeople))) return true;
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
    if (req.method === 'GET' && sub === 'events' && parts.length === 3) return streams.open(req, res, app), true;
    if (req.method === 'GET' && sub === 'state' && parts.length === 3) return json(res, 200, await state(app)), true;
    if (req.method === 'GET' && sub === 'logs' && parts.length === 4) {
      const text = /^[\w.-]{1,100}$/.test(parts[3]) ? await deployLog(layout, app, parts[3]) : undefined;
      if (text === undefined) return send(res, 404, 'text/plain; charset=utf-8', `There is no deploy log for ${parts[3]}; it may have been pruned with its release.`), true;
      return send(res, 200, 'text/plain; charset=utf-8', text), true;
    }
    if (req.method === 'POST' && sub && parts.length === 3) {
      if (!fromThePage(req)) {
        deps.log('refused', { app, status: 403, reason: 'a page action without the page\'s headers or from another origin' });
        json(res, 403, { ok: false, message: 'Actions are accepted only from this page.' });
        return true;
      }
      try {
        await pageAction(deps, req, res, app, sub);
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
