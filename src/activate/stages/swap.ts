// swap: check the lock is still ours, write the activation journal, then rename a new
// symlink over `current`. Shared by deploy and rollback.
import { readCurrent, swapCurrent } from '../../releases/current.js';
import { beginActivation } from '../activation-journal.js';
import { ready, type OpCtx } from '../context.js';

/** Skips swap, verify, record and prune when the target is the release already live. */
export function alreadyLive(c: OpCtx): string | undefined {
  return c.target && c.target.id === c.state?.liveId ? `release ${c.target.id} is already live` : undefined;
}

export async function swap(c: OpCtx): Promise<void> {
  ready(c, 'lock', 'target');
  await c.lock.verify();
  const link = c.layout.currentLink(c.app);
  const cur = await readCurrent(link);
  const previousLink = cur.kind === 'link' ? cur.target : undefined;
  await beginActivation(c.layout, c.app, { release: c.target.id, previous: previousLink, previousId: c.state?.liveId });
  await swapCurrent(link, c.target.path ?? c.target.id);
  c.activation = { previousLink };
}
