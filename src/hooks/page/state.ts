// What the settings page shows, read from the same state the CLI uses. Read-only: the
// page never repairs or locks anything just by being looked at.
import fs from 'node:fs/promises';
import { loadApp } from '../../releases/reconcile.js';
import { mask } from '../../releases/settings/env.js';
import { readJson } from '../../releases/settings/files.js';
import type { Layout } from '../../releases/paths.js';
import type { ReleaseRecord } from '../../releases/log.js';
import { lastDeployNotice, releaseCommitUrls, type NotifyStatus } from '../notify/status.js';
import { webhookStatus, type WebhookStatus } from '../serve/status.js';

export interface AppPageState {
  app: string;
  hook: WebhookStatus;
  /** The app's own REV_TOKEN, masked (`rt_…c123`), or null. */
  token: string | null;
  releases: (ReleaseRecord & { live: boolean })[];
  /** Each release's commit on its forge, by release id (those without one are left out). */
  commitUrls: Record<string, string>;
  /** Where the last deploy's commit status went and what became of it, or why it went nowhere. */
  notice: NotifyStatus['lastDeploy'];
  /** A deploy of this app is running or queued in this daemon. */
  deploying: boolean;
  /** The running (or last) deploy's release id and log text. */
  log: { release: string; text: string; running: boolean; size: number } | null;
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
  for (const dir of [layout.roots.appsDir, layout.appsStateRoot]) {
    try {
      for (const e of await fs.readdir(dir, { withFileTypes: true })) if (e.isDirectory() && !e.name.startsWith('.')) names.add(e.name);
    } catch {}
  }
  return [...names].sort();
}

const LOG_BYTES = 64 * 1024;

async function readRange(file: string, from: number, to?: number): Promise<{ text: string; size: number }> {
  try {
    const fh = await fs.open(file, 'r');
    try {
      const size = to ?? (await fh.stat()).size;
      const buf = Buffer.alloc(Math.max(0, size - from));
      await fh.read(buf, 0, buf.length, from);
      return { text: buf.toString('utf8'), size };
    } finally {
      await fh.close();
    }
  } catch {
    return { text: '', size: 0 };
  }
}

/** The log's last 64 KiB, and its size in bytes (where a live stream goes on from). */
async function logTail(file: string): Promise<{ text: string; size: number }> {
  let size = 0;
  try {
    size = (await fs.stat(file)).size;
  } catch {
    return { text: '', size: 0 };
  }
  return readRange(file, Math.max(0, size - LOG_BYTES), size);
}

/** A release's deploy log (its last 64 KiB), or undefined when it has none. */
export async function deployLog(layout: Layout, app: string, release: string): Promise<string | undefined> {
  const file = layout.deployLog(app, release);
  try {
    await fs.access(file);
  } catch {
    return undefined;
  }
  return (await logTail(file)).text;
}

/** Bytes `from` to `to` of a deploy log. */
export async function readLogFrom(layout: Layout, app: string, release: string, from: number, to: number): Promise<string> {
  return (await readRange(layout.deployLog(app, release), from, to)).text;
}

export async function appPageState(layout: Layout, app: string, deploying: boolean): Promise<AppPageState> {
  const [hook, state, env, commitUrls, notice] = await Promise.all([
    webhookStatus(layout, app, 8),
    loadApp(layout, app),
    readJson(layout.appEnv(app)),
    releaseCommitUrls(layout, app),
    lastDeployNotice(layout, app),
  ]);
  const releases = state.releases.map((r) => ({ ...r, live: r.id === state.liveId }));
  const building = releases.filter((r) => r.status === 'building').pop();
  const last = building ?? releases.filter((r) => r.kind !== 'adopted').pop();
  return {
    app,
    hook,
    token: typeof env.REV_TOKEN === 'string' && env.REV_TOKEN ? mask(env.REV_TOKEN) : null,
    releases,
    commitUrls,
    notice,
    deploying: deploying || !!building,
    log: last ? { release: last.id, running: !!building, ...(await logTail(layout.deployLog(app, last.id))) } : null,
  };
}
