// verify: restart the app through its supervisor and wait for its health URL; a release
// that does not come up is flipped back and recorded bad. Shared by deploy and rollback.
import { releasePath } from '../../releases/reconcile.js';
import { revert, unhealthy, verify as check } from '../activation.js';
import { ready, type OpCtx } from '../context.js';

export async function verify(c: OpCtx): Promise<void> {
  ready(c, 'target', 'activation');
  const { target } = c;
  const v = await check(c, target.id, releasePath(c.layout, c.app, target));
  c.restarted = v.supervisor !== 'none';
  if (v.warning) c.notes.push(v.warning);
  if (v.ok) return;
  const message = await revert(c, target.id, c.activation.previousLink, c.state?.liveId, v.reason ?? 'The release was not accepted.');
  throw unhealthy(message, { release: target.id, supervisor: v.supervisor });
}
