// recover: bring the release log in line with the disk and settle an activation a killed
// process left half done (see activation.ts), under the lock, before anything else.
import fs from 'node:fs/promises';
import { RevError } from '../../errors.js';
import { planReconcile } from '../../releases/reconcile.js';
import { emptyTrash } from '../../releases/retention.js';
import { repairsDue } from '../activation-journal.js';
import { recoverApp } from '../activation.js';
import type { DeployCtx, OpCtx, RollbackCtx } from '../context.js';

async function recoverState(c: OpCtx): Promise<void> {
  const { state, note } = await recoverApp(c);
  c.state = state;
  if (note) c.notes.push(note);
}

export async function recoverForDeploy(c: DeployCtx): Promise<void> {
  await fs.mkdir(c.layout.appDir(c.app), { recursive: true });
  await recoverState(c);
  c.trash = emptyTrash(c.layout, c.app).catch(() => {});
}

export async function recoverForRollback(c: RollbackCtx): Promise<void> {
  await recoverState(c);
  if (c.state?.releases.length === 0) {
    throw new RevError('UNKNOWN_APP', `${c.app} has no releases; deploy it first with \`toes deploy ${c.app} --from <source>\`.`, { data: { app: c.app } });
  }
}

/** `toes deploy --dry-run`: the state the next deploy will start from, and the repairs it would make first, making none. */
export async function previewState(c: DeployCtx): Promise<void> {
  const plan = await planReconcile(c.layout, c.app, c.now);
  c.state = plan;
  const repairs = await repairsDue(c.layout, c.app, plan);
  if (repairs.length) c.notes.push(`a deploy would first ${repairs.join('; ')}.`);
}
