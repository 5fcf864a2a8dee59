// The settings page's routes on `toes serve`, one Hono app: GET pages, a live stream per
// app, and a few POST actions, all behind a login (login.ts): a session cookie from a
// one-time link. Around it, defences that were the page's only ones before: peers on the
// local network only, a Host this machine answers to (no DNS rebinding), and actions only
// as same-origin JSON with `x-toes-page` (no cross-site forms; Hono's csrf refuses form
// posts from elsewhere too). Nothing secret is ever rendered: the signing secret never,
// the token only as a masked tail.
import type http from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { csrf } from 'hono/csrf';
import { HTTPException } from 'hono/http-exception';
import { RevError } from '../../errors.js';
import { checkAppName } from '../../releases/paths.js';
import { globalSettings } from '../../releases/settings/load.js';
import { pageAction } from './actions.js';
import { assetAt } from './assets.js';
import type { PageDeps } from './deps.js';
import { fromThePage, hostAllowed, localPeer } from './guard.js';
import { admit, loginRoutes } from './login.js';
import { pageHeaders, peerOf, type PageContext, type PageEnv } from './respond.js';
import { appExists, appPageState, deployLog, listApps, type AppPageState } from './state.js';
import { LiveStreams } from './stream.js';
import { appPage, errorPage, indexPage } from './views.js';

export { allowFraming } from './respond.js';

/** The page's app, its node:http listener, and what the daemon does with it at shutdown. */
export interface PageRouter {
  app: Hono<PageEnv>;
  listener: http.RequestListener;
  closeStreams(): void;
}

export function pageRouter(deps: PageDeps): PageRouter {
  const { layout } = deps;

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

  /** Peers on this machine or its network, asking by one of this machine's names. */
  const nearby: MiddlewareHandler<PageEnv> = async (c, next) => {
    if (!localPeer(peerOf(c))) {
      deps.log('refused', { status: 403, reason: 'page asked for from outside the local network', from: peerOf(c) });
      return c.text('The settings page is for this machine and its local network only.', 403);
    }
    const u = (await globalSettings(layout).catch(() => undefined))?.webhookUrl;
    let extraHosts: string[] = [];
    try {
      extraHosts = u ? [new URL(u).hostname.toLowerCase()] : [];
    } catch {}
    if (!hostAllowed(c.req.header('host'), extraHosts)) {
      deps.log('refused', { status: 403, reason: 'page asked for by an unknown host name', path: c.req.path.slice(0, 80) });
      return c.text('This page answers only to the names of this machine.', 403);
    }
    await next();
  };

  /** The app named in the path (or `?app=` at /), checked, and known here. */
  const appOf = async (c: PageContext, name: string | undefined): Promise<string | Response> => {
    let app: string;
    try {
      app = checkAppName(name ?? '');
    } catch {
      return c.html(errorPage(400, 'That is not an app name: letters, digits, ".", "_" and "-" only.'), 400);
    }
    if (!(await appExists(layout, app))) return c.html(errorPage(404, `There is no app called ${app} here.`), 404);
    return app;
  };

  const streams = new LiveStreams(layout, state);
  const app = new Hono<PageEnv>();
  app.use('*', pageHeaders());
  app.get('/assets/:file', (c) => {
    const asset = assetAt(c.req.path);
    if (!asset) return c.json({ ok: false, message: 'not found' }, 404);
    // Its name changes with its content: a browser may keep it for good.
    c.header('cache-control', 'public, max-age=31536000, immutable');
    return c.body(new Uint8Array(asset.body), 200, { 'content-type': asset.type });
  });
  app.use('*', nearby);
  loginRoutes(app, deps);
  app.use('*', admit(deps));

  app.get('/', async (c) => {
    const name = c.req.query('app');
    if (name === undefined) return c.html(indexPage(await indexRows()));
    const a = await appOf(c, name);
    return typeof a === 'string' ? c.html(appPage(await state(a))) : a;
  });
  app.all('/', (c) => c.text('GET only', 405));
  app.get('/apps/:app', async (c) => {
    const a = await appOf(c, c.req.param('app'));
    return typeof a === 'string' ? c.html(appPage(await state(a))) : a;
  });
  app.get('/apps/:app/events', async (c) => {
    const a = await appOf(c, c.req.param('app'));
    return typeof a === 'string' ? streams.open(c, a) : a;
  });
  app.get('/apps/:app/state', async (c) => {
    const a = await appOf(c, c.req.param('app'));
    return typeof a === 'string' ? c.json(await state(a)) : a;
  });
  app.get('/apps/:app/logs/:release', async (c) => {
    const a = await appOf(c, c.req.param('app'));
    if (typeof a !== 'string') return a;
    const release = c.req.param('release');
    const text = /^[\w.-]{1,100}$/.test(release) ? await deployLog(layout, a, release) : undefined;
    return text === undefined ? c.text(`There is no deploy log for ${release}; it may have been pruned with its release.`, 404) : c.text(text);
  });
  app.post(
    '/apps/:app/:action',
    csrf({ origin: (origin, c) => origin === `http://${c.req.header('host')}` || origin === `https://${c.req.header('host')}` }),
    async (c, next) => {
      if (fromThePage(c.env.incoming)) return next();
      deps.log('refused', { app: c.req.param('app'), status: 403, reason: 'a page action without the page\'s headers or from another origin' });
      return c.json({ ok: false, message: 'Actions are accepted only from this page.' }, 403);
    },
    bodyLimit({ maxSize: 16 * 1024, onError: (c) => c.json({ ok: false, message: `the body is over ${16 * 1024} bytes` }, 413) }),
    async (c) => {
      const a = await appOf(c, c.req.param('app'));
      if (typeof a !== 'string') return a;
      try {
        return await pageAction(deps, c, a, c.req.param('action'));
      } finally {
        streams.poke(a);
      }
    },
  );
  app.all('/apps/*', (c) => c.json({ ok: false, message: 'not found' }, 404));
  app.notFound((c) => c.json({ ok: false, message: 'not found; the settings page is at /' }, 404));
  app.onError((err, c) => {
    if (err instanceof HTTPException) {
      deps.log('refused', { status: err.status, reason: 'a form posted from another origin', path: c.req.path.slice(0, 80) });
      return c.json({ ok: false, message: 'Actions are accepted only from this page.' }, err.status);
    }
    const e = err instanceof RevError ? err : undefined;
    if (!e) deps.log('error', { reason: err.message, path: c.req.path.slice(0, 80) });
    return c.json({ ok: false, message: e?.message ?? 'Something went wrong; see the daemon log.' }, 500);
  });

  return { app, listener: getRequestListener(app.fetch), closeStreams: () => streams.closeAll() };
}
