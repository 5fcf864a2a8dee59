// check: a sealed release about to go live again (a rollback, or a deploy reusing it) must
// still be what was sealed; one changed since is refused, and nothing is swapped.
import { RevError } from '../../errors.js';
import type { Layout } from '../../releases/paths.js';
import type { ReleaseRecord } from '../../releases/log.js';
import { loadApp, releasePath } from '../../releases/reconcile.js';
import { ready, type OpCtx } from '../context.js';
import { checkSeal, describeChanges, splitChanges, type SealCheck } from '../seal-record.js';
import { alreadyLive } from './swap.js';

/** Nothing to check: the release was built by this very deploy, or is live already. */
export function skipCheckSeal(c: OpCtx & { build?: { sealed: boolean } }): string | undefined {
  if (c.build?.sealed) return 'the release was sealed by this deploy';
  return alreadyLive(c);
}

/** The command that builds that version again, from its source. */
export function rebuildCommand(app: string, r: ReleaseRecord): string {
  if (r.kind === 'git' && r.commit) return `toes deploy ${app} --ref ${r.commit} --force`;
  return r.source ? `toes deploy ${app} --from ${r.source} --force` : `toes deploy ${app} --force`;
}

/**
 * Throws RELEASE_CHANGED when release `r`'s files differ from its seal; returns a warning
 * when the only difference is files the app wrote beside its own (see splitChanges).
 */
export function assertSealed(layout: Layout, app: string, r: ReleaseRecord): string | undefined {
  const { changed } = checkSeal(layout, app, r.id, releasePath(layout, app, r));
  const err = sealError(app, r, changed);
  if (err) throw err;
  const { kept } = splitChanges(changed);
  if (kept.length) return `Release ${r.id} has ${kept.length} file${kept.length === 1 ? '' : 's'} added since its seal that no runtime loads by itself (${describeChanges(kept)}), most likely written by the app while it ran; kept as they are.`;
  return undefined;
}

function sealError(app: string, r: ReleaseRecord, all: SealCheck['changed']): RevError | undefined {
  const changed = splitChanges(all).refused;
  if (changed.length === 0) return undefined;
  return new RevError('RELEASE_CHANGED', `Release ${r.id} of ${app} was changed after it was sealed (${describeChanges(changed)}), so it will not go live; build that version again with \`${rebuildCommand(app, r)}\`.`, {
    data: { app, release: r.id, changed: changed.slice(0, 20) },
  });
}

export interface SealVerdict {
  id: string;
  /** unrecorded: sealed before seals were recorded, or adopted. */
  seal: 'intact' | 'changed' | 'unrecorded';
  error?: RevError;
}

/** `toes releases --verify`: every release on disk compared with its seal. */
export async function verifyReleases(layout: Layout, app: string): Promise<SealVerdict[]> {
  const { releases } = await loadApp(layout, app);
  return releases
    .filter((r) => r.sealed && !r.pruned)
    .map((r) => {
      const check = checkSeal(layout, app, r.id, releasePath(layout, app, r));
      const error = sealError(app, r, check.changed);
      return { id: r.id, seal: !check.recorded ? 'unrecorded' : error ? 'changed' : 'intact', ...(error ? { error } : {}) };
    });
}

export async function checkSealed(c: OpCtx): Promise<void> {
  ready(c, 'target');
  const warning = assertSealed(c.layout, c.app, c.target);
  if (warning) c.warnings.push(warning);
}
