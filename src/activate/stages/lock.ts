// lock: take the app's lock, waiting for a running deploy or rollback of the same app.
import { acquireLock } from '../../releases/lock.js';
import type { OpCtx } from '../context.js';

export async function lock(c: OpCtx): Promise<void> {
  c.lock = await acquireLock(c.layout.lockDir(c.app), {
    command: `${c.op} (${c.trigger})`,
    waitMs: c.waitMs,
    onWait: (holder) => c.engine.events?.onWait?.(`waiting for the lock held by ${holder}\n`),
  });
}
