// The activation journal: written durably before a swap, removed once the health check
// has settled it. A journal still present means a process was killed between the two,
// and the next command that holds the lock finishes or undoes that activation.
import fs from 'node:fs/promises';
import { readCurrent } from '../releases/current.js';
import { writeJsonDurable } from '../releases/durable.js';
import { readLog } from '../releases/log.js';
import type { Layout } from '../releases/paths.js';
import { releasePath } from '../releases/reconcile.js';

export interface ActivationJournal {
  release: string;
  /** What `current` pointed at before (a link target), to flip back to. */
  previous?: string;
  previousId?: string;
  pid: number;
  startedAt: string;
}

export async function beginActivation(layout: Layout, app: string, j: Omit<ActivationJournal, 'pid' | 'startedAt'>): Promise<void> {
  // Durable before the swap: after a power cut the next command must find it.
  await writeJsonDurable(layout.activationFile(app), { ...j, pid: process.pid, startedAt: new Date().toISOString() }, { compact: true });
}

export async function endActivation(layout: Layout, app: string): Promise<void> {
  await fs.rm(layout.activationFile(app), { force: true });
}

/**
 * A journal left behind, and whether its swap happened (`current` names its release, so
 * the release still needs its health check) or not (only the journal is left to remove).
 */
export async function interruptedActivation(layout: Layout, app: string): Promise<{ journal: ActivationJournal; swapped?: { dir: string } } | undefined> {
  let journal: ActivationJournal;
  try {
    journal = JSON.parse(await fs.readFile(layout.activationFile(app), 'utf8'));
  } catch {
    return undefined;
  }
  const cur = await readCurrent(layout.currentLink(app));
  const rec = (await readLog(layout.releaseLog(app))).find((r) => r.id === journal.release);
  const swapped = cur.kind === 'link' && rec && releasePath(layout, app, rec) === cur.abs;
  return { journal, swapped: swapped ? { dir: cur.abs } : undefined };
}

/**
 * What the next deploy or rollback repairs before anything else, in words, reading only:
 * the reconcile plan's repairs, then an interrupted activation's (see recoverApp).
 */
export async function repairsDue(layout: Layout, app: string, plan: { repairs: string[] }): Promise<string[]> {
  const left = await interruptedActivation(layout, app);
  if (!left) return plan.repairs;
  if (!left.swapped) return [...plan.repairs, 'clear the journal of an activation that never swapped'];
  return [...plan.repairs, `restart and health-check release ${left.journal.release}, whose activation was interrupted, and flip back if it is not healthy`];
}
