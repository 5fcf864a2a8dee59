// What the store must keep for an app: its kept releases (sealed, not pruned), the git
// store each of their sources uses, and the commits they were built from.
import { gitStoreFor, isTarballUrl } from '../fetch/index.js';
import { readLog, type ReleaseRecord } from './log.js';
import type { Layout } from './paths.js';
import { appSettings } from './settings/load.js';

export function isKept(r: ReleaseRecord): boolean {
  return !!r.sealed && !r.pruned;
}

/** Only remote git sources have a store (a local repository is read in place). */
function remoteGit(source: string | undefined): source is string {
  return !!source && /^https?:\/\//i.test(source) && !isTarballUrl(source);
}

/** Per git store of `app` still in use: the commits of its kept releases (maybe none). */
export async function keptStores(layout: Layout, app: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const add = (source: string, commit?: string) => {
    const dir = gitStoreFor(layout.storeRoot, app, source);
    const list = out.get(dir) ?? [];
    if (commit && /^[0-9a-f]{40}$/.test(commit)) list.push(commit);
    out.set(dir, list);
  };
  for (const r of await readLog(layout.releaseLog(app))) {
    if (isKept(r) && r.kind === 'git' && remoteGit(r.source)) add(r.source, r.commit ?? r.version);
  }
  // The saved source stays usable even before a release of it exists (set by hand, say).
  const saved = (await appSettings(layout, app).catch(() => undefined))?.source;
  if (remoteGit(saved)) add(saved);
  return out;
}
