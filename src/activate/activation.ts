// After every swap: restart the app through its supervisor and wait for it to answer its
// health URL. A release that does not come up is flipped back, the old one restarted and
// checked, and the new one recorded as bad. The activation journal (activation-journal.ts)
// lets the next command finish or undo an activation whose process was killed half way.
import path from 'node:path';
import { RevError } from '../errors.js';
import { swapCurrent } from '../releases/current.js';
import { appendLog, readLog } from '../releases/log.js';
import type { Layout } from '../releases/paths.js';
import { reconcile, type AppState } from '../releases/reconcile.js';
import type { AppSettings } from '../releases/settings/schema.js';
import { endActivation, interruptedActivation } from './activation-journal.js';
import { waitHealthy, type HealthOutcome } from './supervisor/health.js';
import { describePlan, restartPlan } from './supervisor/plan.js';
import { restart, type RestartOutcome } from './supervisor/restart.js';

export interface ActivationEnv {
  layout: Layout;
  app: string;
  settings: AppSettings;
  /** The environment of the app's own processes (the restart command): no REV_* credentials. */
  processEnv: Record<string, string>;
  now(): Date;
  say(text: string): void;
}

export interface Verdict {
  ok: boolean;
  restart: RestartOutcome;
  health?: HealthOutcome;
  supervisor: string;
  /** One sentence: why the release was not accepted. */
  reason?: string;
  /** Why, without what to check: for a sentence about another release that says it. */
  cause?: string;
  /** Accepted, but something the user should know (the restart itself failed). */
  warning?: string;
}

/** Restart the app onto the release `current` names, then check its health. */
export async function verify(ax: ActivationEnv, releaseId: string, dir: string): Promise<Verdict> {
  const plan = restartPlan({ app: ax.app, release: releaseId, releaseDir: dir, toesUrl: ax.layout.roots.toesUrl, settings: ax.settings });
  const timeoutMs = ax.settings.healthTimeout * 1000;
  const supervisor = describePlan(plan);
  const r = await restart(plan, timeoutMs, ax.processEnv);
  ax.say(`restart via ${supervisor}: ${r.detail}\n`);
  const url = ax.settings.healthUrl;
  if (!url) {
    // Nothing to ask: the restart's own answer is all there is.
    return { ok: r.ok, restart: r, supervisor, reason: r.ok ? undefined : `Release ${releaseId} of ${ax.app} was not accepted: the restart failed: ${r.detail}.`, cause: r.ok ? undefined : `the restart failed: ${r.detail}` };
  }
  const h = await waitHealthy(url, timeoutMs, ax.settings.healthInterval * 1000, ax.app);
  ax.say(`health: ${h.ok ? `ok after ${h.ms} ms (${h.detail})` : h.detail}\n`);
  if (h.ok && (r.ok || r.unreachable)) {
    // A supervisor that could not be asked: the health check passed, but the old process
    // may still be serving. A supervisor that refused or failed is a failure outright.
    const warning = r.ok ? undefined : `The release is live and ${url} answers, but ${r.detail}; the running process may still be the old release, so restart the app yourself.`;
    return { ok: true, restart: r, health: h, supervisor, warning };
  }
  const why = (detail: string) => (r.ok ? `it did not become healthy: ${detail}` : `the restart failed (${r.detail}) and ${detail}`);
  return { ok: false, restart: r, health: h, supervisor, reason: `Release ${releaseId} of ${ax.app} was not accepted: ${why(h.detail)}.`, cause: why(h.cause ?? h.detail) };
}

/**
 * Flips `current` back to `previous` after `releaseId` failed, restarts and checks the old
 * release, and records `releaseId` as bad. Returns a sentence for the user.
 */
export async function revert(ax: ActivationEnv, releaseId: string, previous: string | undefined, previousId: string | undefined, reason: string): Promise<string> {
  const link = ax.layout.currentLink(ax.app);
  let back = 'there was no earlier release to go back to';
  if (previous) {
    await swapCurrent(link, previous);
    const v = await verify(ax, previousId ?? previous, path.resolve(path.dirname(link), previous));
    back = v.ok ? `${previousId ?? previous} is live again` : `${previousId ?? previous} is live again but is not healthy either: ${v.cause}`;
  }
  const releases = await readLog(ax.layout.releaseLog(ax.app));
  const rec = releases.find((r) => r.id === releaseId);
  const records = [];
  if (rec) records.push({ ...rec, status: 'bad' as const, finishedAt: ax.now().toISOString(), error: { code: 'UNHEALTHY', message: reason } });
  const prev = releases.find((r) => r.id === previousId);
  if (prev) records.push({ ...prev, status: 'live' as const });
  await appendLog(ax.layout.releaseLog(ax.app), records);
  await endActivation(ax.layout, ax.app);
  return `${reason} Rolled back by itself: ${back}.`;
}

/**
 * A journal left by a killed process: if `current` names the release it was activating,
 * check it now and keep it or revert it; otherwise the swap never happened. The caller
 * holds the app's lock.
 */
export async function finishActivation(ax: ActivationEnv): Promise<string | undefined> {
  const left = await interruptedActivation(ax.layout, ax.app);
  if (!left) return undefined;
  const { journal: j, swapped } = left;
  if (!swapped) {
    await endActivation(ax.layout, ax.app);
    return undefined;
  }
  ax.say(`finishing the activation of ${j.release} that was interrupted\n`);
  const v = await verify(ax, j.release, swapped.dir);
  if (v.ok) {
    await endActivation(ax.layout, ax.app);
    return `The interrupted activation of ${j.release} was checked and kept.`;
  }
  return revert(ax, j.release, j.previous, j.previousId, v.reason ?? 'The release was not accepted.');
}

export function unhealthy(message: string, data: Record<string, unknown>): RevError {
  return new RevError('UNHEALTHY', message, { data });
}

/**
 * Brings the app's log in line with the disk and settles an activation a killed process
 * left half done, so every command starts from a known state. The caller holds the lock.
 */
export async function recoverApp(ax: ActivationEnv): Promise<{ state: AppState; note?: string }> {
  let state = await reconcile(ax.layout, ax.app, ax.now);
  const note = await finishActivation(ax);
  if (note) state = await reconcile(ax.layout, ax.app, ax.now);
  return { state, note };
}
