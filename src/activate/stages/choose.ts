// choose: the release a rollback makes live: the newest good release before the live one,
// or the one VERSION names (a release id, a version, or a prefix of either).
import { RevError } from '../../errors.js';
import type { ReleaseRecord } from '../../releases/log.js';
import { isGood, rollbackTarget } from '../../releases/reconcile.js';
import { ready, type RollbackCtx } from '../context.js';

export function findRelease(releases: ReleaseRecord[], key: string): ReleaseRecord[] {
  const exact = releases.filter((r) => r.id === key || r.version === key || r.commit === key);
  if (exact.length) return exact;
  if (key.length < 4) return [];
  return releases.filter((r) => r.id.startsWith(key) || r.version.startsWith(key));
}

export async function choose(c: RollbackCtx): Promise<void> {
  ready(c, 'state');
  const { app, req } = c;
  if (!req.to) {
    c.target = rollbackTarget(c.state);
    if (!c.target) {
      throw new RevError('NO_ROLLBACK_TARGET', `${app} has no earlier good release to roll back to; nothing was changed.`, { data: { app } });
    }
    return;
  }
  c.target = named(c.state.releases, app, req.to);
}

function named(releases: ReleaseRecord[], app: string, to: string): ReleaseRecord {
  const hits = findRelease(releases, to);
  const usable = [...hits].reverse().filter(isGood);
  if (hits.length === 0) {
    throw new RevError('RELEASE_NOT_FOUND', `${app} has no release "${to}"; list them with \`toes releases ${app}\`.`, { data: { app, to } });
  }
  if (usable.length === 0) {
    const r = hits[hits.length - 1];
    const why = r.pruned ? 'was pruned from disk' : `is ${r.status}`;
    throw new RevError('RELEASE_NOT_FOUND', `Release ${r.id} of ${app} ${why}, so it cannot go live; deploy that version again instead.`, { data: { app, to } });
  }
  // Several releases of one version are the same content: the newest will do. A prefix
  // matching different versions is a command line to correct, hence USAGE.
  if (!usable.some((r) => r.id === to) && new Set(usable.map((r) => r.version)).size > 1) {
    throw new RevError('USAGE', `"${to}" matches several releases of ${app} (${usable.map((r) => r.id).join(', ')}); give more characters.`);
  }
  return usable[0];
}
