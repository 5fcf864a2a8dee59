// What the settings page shows, read from the same state the CLI uses. Read-only: the
// page never repairs or locks anything just by being looked at.
import fs from 'node:fs/promises';
import { loadApp } from '../../releases/reconcile.js';
import { readJson, mask } from '../../releases/settings.js';
import type { Layout } from '../../releases/paths.js';
import type { ReleaseRecord } from '../../releases/log.js';
import { webhookStatus, type WebhookStatus } from '../status.js';

export interface AppPageState {
  app: string;
  hook: WebhookStatus;
  /** The app's own REV_TOKEN, masked (`rt_…c123`), or null. */
  token: string | null;
  releases: (ReleaseRecord & { live: boolean })[];
  /** A deploy of this app is running or queued in this daemon. */
  deploying: boolean;
  /** The running (or last) deploy's release id and log text. */
  log: { release: string; text: string; running: boolean } | null;
}

export async function appExists(layout: Layout, app: string): Promise<boolean> {
  for (const p of [layout.appDir(app), layout.appState(app)]) {
    try {
      await fs.access(p);
      return true;
    } catch {}
  }
  return false;
}

export async function listApps(layout: Layout): Promise<string[]> {
  const names = new Set<string>();
  for (const dir of [layout.roots.appsDir, `${layout.revDir}/apps`]) {
    try {
      for (const e of await fs.readdir(dir, { withFileTypes: true })) if (e.isDirectory() && !e.name.startsWith('.')) names.add(e.name);
    } catch {}
  }
  return [...names].sort();
}

const LOG_BYTES = 64 * 1024;

async function logText(file: string): Promise<string> {
  try {
    const fh = await fs.open(file, 'r');
    try {
      const { size } = await fh.stat();
      const start = Math.max(0, size - LOG_BYTES);
      const buf = Buffer.alloc(size - start);
      await fh.read(buf, 0, buf.length, start);
      return buf.toString('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}

export async function appPageState(layout: Layout, app: string, deploying: boolean): Promise<AppPageState> {
  const [hook, state, env] = await Promise.all([webhookStatus(layout, app, 8), loadApp(layout, app), readJson(layout.appEnv(app))]);
  const releases = state.releases.map((r) => ({ ...r, live: r.id === state.liveId }));
  const building = releases.filter((r) => r.status === 'building').pop();
  const last = building ?? releases.filter((r) => r.kind !== 'adopted').pop();
  return {
    app,
    hook,
    token: typeof env.REV_TOKEN === 'string' && env.REV_TOKEN ? mask(env.REV_TOKEN) : null,
    releases,
    deploying: deploying || !!building,
    log: last ? { release: last.id, text: await logText(layout.deployLog(app, last.id)), running: !!building } : null,
  };
}
