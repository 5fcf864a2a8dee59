// Garbage collection: give back the disk that no kept release and no store tip needs.
// First each app's own leftovers (gc-app.ts, under the app's lock), then the shared blob
// store (gc-sweep.ts, under the store hold). Safe to stop at any moment: every step is a
// rename or a deletion of something nothing refers to, and the next run picks up the rest.
import fs from 'node:fs/promises';
import { RevError } from '../errors.js';
import { checkAppName, isAppName, type Layout } from './paths.js';
import { collectApp, type AppCollection } from './gc-app.js';
import { sweepBlobs, type ReleaseFiles } from './gc-sweep.js';
import { listGitStores, removeLeftovers } from '../fetch/index.js';

export interface GcOptions {
  /** Only this app's own leftovers; the blob sweep is always store-wide (blobs are shared). */
  app?: string;
  dryRun?: boolean;
  /** How long the sweep may wait for deploys using the store to leave (ms); default 0. */
  waitMs?: number;
  command?: string;
}

export interface GcReport extends AppCollection {
  dryRun: boolean;
  /** Whether releases are hard links to the blobs or copies (APPS_DIR on another filesystem). */
  releases: ReleaseFiles;
  /** What the blob store held before. */
  store: { blobs: number; bytes: number };
  /** Blobs deleted (in a dry run: that would be). */
  freed: { blobs: number; bytes: number };
  /** What was left for a later run, and why (an app being deployed, the store in use). */
  skipped: string[];
  /** Nothing was left for later. */
  complete: boolean;
}

/** Every app toes-rev knows: those with state under rev/apps/ or a git store. */
async function knownApps(layout: Layout): Promise<string[]> {
  const named = await fs.readdir(layout.appsStateRoot).catch(() => [] as string[]);
  const owners = (await listGitStores(layout.storeRoot)).map((s) => s.owner);
  return [...new Set([...named, ...owners])].filter(isAppName).sort();
}

export async function collectGarbage(layout: Layout, opts: GcOptions = {}): Promise<GcReport> {
  const dryRun = !!opts.dryRun;
  const command = opts.command ?? 'toes gc';
  const known = await knownApps(layout);
  if (opts.app && !known.includes(checkAppName(opts.app))) {
    throw new RevError('UNKNOWN_APP', `toes-rev knows no app named ${opts.app} here; \`toes gc\` without an app collects for every app.`, { data: { app: opts.app } });
  }
  const apps = opts.app ? [opts.app] : known;
  const total: AppCollection = { releaseDirs: 0, logs: 0, sources: 0, objects: 0, objectBytes: 0 };
  const skipped: string[] = [];
  if (!dryRun) await removeLeftovers(layout.storeRoot);
  for (const app of apps) {
    const got = await collectApp(layout, app, { dryRun, command });
    if ('busy' in got) {
      skipped.push(got.busy);
      continue;
    }
    for (const k of Object.keys(total) as (keyof AppCollection)[]) total[k] += got[k];
  }
  const sweep = await sweepBlobs(layout, { dryRun, waitMs: opts.waitMs ?? 0, command });
  if (sweep.busy) skipped.push(`the blob store (in use by ${sweep.busy.join(', ')})`);
  return { dryRun, ...total, releases: sweep.releases, store: sweep.before, freed: sweep.freed, skipped, complete: skipped.length === 0 };
}
