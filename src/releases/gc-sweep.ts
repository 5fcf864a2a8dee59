// The blob sweep: deletes stored contents that no release and no git store needs. Blobs
// are shared by every app, so the sweep is store-wide and runs only under the store hold
// (store-access.ts). What it keeps:
// - every content a git store's tip or a kept release's commit names (storeNeeds), so the
//   next incremental fetch, which tells the server it has the tip, still finds them;
// - when releases are hard links (APPS_DIR on the store's filesystem), every blob with a
//   link count above 1: some release (or a pruned one not yet deleted) links it.
// When APPS_DIR is on another filesystem, releases hold copies and link counts say nothing:
// then only the first rule applies, and everything else is deleted (no release needs a blob
// it holds a copy of). Deleting a blob's name never changes a release that links it: the
// link keeps the content, so no kill at any moment can leave a release missing a file.
import fs from 'node:fs/promises';
import { failpoint } from '../failpoint.js';
import { BlobStore, listGitStores, storeNeeds, type BlobFile } from '../fetch/index.js';
import { keptStores } from './kept.js';
import type { Layout } from './paths.js';
import { holdStore } from './store-access.js';

export type ReleaseFiles = 'links' | 'copies';

export interface Sweep {
  releases: ReleaseFiles;
  /** What the store held before the sweep. */
  before: { blobs: number; bytes: number };
  /** Deleted (in a dry run: deletable now). */
  freed: { blobs: number; bytes: number };
  /** Why the sweep stopped short (a deploy was using the store), if it did. */
  busy?: string[];
}

async function devOf(...paths: string[]): Promise<number | undefined> {
  for (const p of paths) {
    const st = await fs.stat(p).catch(() => null);
    if (st) return st.dev;
  }
  return undefined;
}

/** Whether releases share inodes with the store (same filesystem) or hold copies. */
export async function releaseFiles(layout: Layout): Promise<ReleaseFiles> {
  const apps = await devOf(layout.roots.appsDir, layout.roots.dataDir);
  const store = await devOf(layout.blobsRoot, layout.storeRoot, layout.revDir, layout.roots.dataDir);
  return apps === store ? 'links' : 'copies';
}

/** Every content some git store needs, over all apps (read without their locks: refs and
 * logs are replaced by renames, so a reader sees a whole old or a whole new file). */
async function neededBlobs(layout: Layout): Promise<Set<string>> {
  const needed = new Set<string>();
  const byApp = new Map<string, Map<string, string[]>>();
  for (const store of await listGitStores(layout.storeRoot)) {
    if (!byApp.has(store.owner)) byApp.set(store.owner, await keptStores(layout, store.owner).catch(() => new Map()));
    for (const b of await storeNeeds(store.dir, byApp.get(store.owner)!.get(store.dir) ?? [])) needed.add(b);
  }
  return needed;
}

export interface SweepOptions {
  dryRun: boolean;
  /** How long to wait for deploys using the store to leave (ms); 0 gives up at once. */
  waitMs: number;
  command: string;
}

/** How many deletions run between two looks for a deploy waiting to enter. */
const BATCH = 32;

export async function sweepBlobs(layout: Layout, opts: SweepOptions): Promise<Sweep> {
  const store = new BlobStore(layout.blobsRoot);
  const releases = await releaseFiles(layout);
  const { blobs, temps } = await store.scan();
  const before = { blobs: blobs.length, bytes: sum(blobs) };
  const unused = (b: BlobFile, needed: Set<string>) => !needed.has(b.name) && (releases === 'copies' || b.nlink === 1);
  const candidates = blobs.filter((b) => unused(b, new Set()));
  if (candidates.length === 0 && temps.length === 0) return { releases, before, freed: { blobs: 0, bytes: 0 } };
  if (opts.dryRun) {
    const needed = await neededBlobs(layout);
    const doomed = candidates.filter((b) => unused(b, needed));
    return { releases, before, freed: { blobs: doomed.length, bytes: sum(doomed) } };
  }
  const deadline = Date.now() + opts.waitMs;
  let got = await holdStore(layout, opts.command);
  while (!got.hold && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    got = await holdStore(layout, opts.command);
  }
  const { hold } = got;
  if (!hold) return { releases, before, freed: { blobs: 0, bytes: 0 }, busy: got.busy };
  const freed = { blobs: 0, bytes: 0 };
  let busy: string[] | undefined;
  try {
    // Decided under the hold: no deploy is between its listing and its links now, and every
    // tip written so far names contents that are already stored.
    const needed = await neededBlobs(layout);
    for (const t of temps) await store.remove(t); // no writer is live: these are a killed one's
    const half = Math.floor(candidates.length / 2);
    for (let i = 0; i < candidates.length; i++) {
      if (i === half) await failpoint('sweep');
      if (i % BATCH === 0 && (await hold.wanted())) {
        busy = ['a deploy that asked to use the store'];
        break;
      }
      const b = candidates[i];
      if (needed.has(b.name)) continue;
      if (releases === 'links' && (await store.links(b.name)) !== 1) continue;
      await store.remove(b.name);
      freed.blobs++;
      freed.bytes += b.size;
    }
  } finally {
    await hold.release();
  }
  return { releases, before, freed, ...(busy ? { busy } : {}) };
}

function sum(list: BlobFile[]): number {
  return list.reduce((n, b) => n + b.size, 0);
}
