// The page's POST actions: webhooks on or off, the rev.host token, Deploy Now and
// Rollback. Each answers with a sentence for the page's notice line.
import type { OpResult } from '../../activate/result.js';
import { updateJson } from '../../releases/settings/files.js';
import { ensureInstance, relayUrl } from '../serve/relay-link/instance.js';
import { setWebhook } from '../serve/webhook-state.js';
import type { PageDeps } from './deps.js';
import type { PageContext } from './respond.js';

/** The HTTP status a rollback's result is answered with. */
function rollbackStatus(r: OpResult): 200 | 409 | 404 | 422 {
  if (r.ok) return 200;
  return r.error?.code === 'LOCKED' ? 409 : r.error?.code === 'RELEASE_NOT_FOUND' ? 404 : 422;
}

/** What the page's notice says about a rollback. */
function rollbackSentence(r: OpResult): string {
  return r.ok ? `${r.app} is live at ${r.release} again.` : (r.error?.message ?? 'the rollback failed');
}

/** Runs one action on `app` (its body already under the size limit). */
export async function pageAction(deps: PageDeps, c: PageContext, app: string, what: string): Promise<Response> {
  const { layout } = deps;
  let body: Record<string, unknown>;
  try {
    const text = await c.req.text();
    body = JSON.parse(text || '{}');
    if (!body || typeof body !== 'object') throw new Error();
  } catch {
    return c.json({ ok: false, message: 'the request body must be a JSON object' }, 400);
  }
  switch (what) {
    case 'webhook': {
      if (typeof body.enabled !== 'boolean') return c.json({ ok: false, message: 'enabled must be true or false' }, 400);
      await setWebhook(layout, app, { enabled: body.enabled });
      let note = '';
      if (body.enabled) {
        const relay = await relayUrl(layout).catch(() => undefined);
        if (relay) await ensureInstance(layout, relay).catch((err) => (note = ` (${(err as Error).message})`));
      }
      deps.log('page', { app, action: body.enabled ? 'webhook-enabled' : 'webhook-disabled' });
      return c.json({ ok: true, message: `Webhooks ${body.enabled ? 'enabled' : 'disabled'} for ${app}.${note}` });
    }
    case 'token': {
      if (body.clear === true) {
        await updateJson(layout.appEnv(app), (v) => void delete v.REV_TOKEN);
        deps.log('page', { app, action: 'token-cleared' });
        return c.json({ ok: true, message: 'Token cleared.' });
      }
      const token = body.token;
      if (typeof token !== 'string' || token.length === 0 || token.length > 4096 || /\s/.test(token)) {
        return c.json({ ok: false, message: 'A token cannot be empty or contain spaces or line breaks; paste the token alone.' }, 400);
      }
      await updateJson(layout.appEnv(app), (v) => void (v.REV_TOKEN = token));
      deps.log('page', { app, action: 'token-set' });
      return c.json({ ok: true, message: 'Token saved.' });
    }
    case 'deploy': {
      const queued = await deps.deployNow(app);
      deps.log('page', { app, action: queued ? 'deploy' : 'deploy-refused' });
      return queued
        ? c.json({ ok: true, message: `Deploying ${app}: the newest commit of its branch.` }, 202)
        : c.json({ ok: false, message: `A deploy of ${app} is already running; it takes the newest commit, so there is nothing to add.` }, 409);
    }
    case 'rollback': {
      if (typeof body.release !== 'string' || !/^[\w.-]{1,100}$/.test(body.release)) return c.json({ ok: false, message: 'release must name a release' }, 400);
      const r = await deps.rollback(app, body.release);
      deps.log('page', { app, action: 'rollback', release: body.release, ok: r.ok });
      return c.json({ ok: r.ok, message: rollbackSentence(r) }, rollbackStatus(r));
    }
    default:
      return c.json({ ok: false, message: 'no such action' }, 404);
  }
}
