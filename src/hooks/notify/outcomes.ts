// What became of each app's statuses and events, for `toes webhook status` and the page:
// the last outcome per target, the last failures with their reason, and where the last
// deploy's status went (rev/apps/<app>/notify-state.json). Written by whoever records a
// deploy and by the sender, under the settings lock.
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../fetch/write-atomic.js';
import { acquireLock } from '../../releases/lock.js';
import { readJson } from '../../releases/settings/files.js';
import type { Layout } from '../../releases/paths.js';

export type SendOutcome = 'waiting' | 'sent' | 'retrying' | 'failed' | 'dropped';

export interface TargetOutcome {
  /** A label a person reads: "github me/app", "n_1a2b3c https://ntfy.sh/…". */
  target: string;
  outcome: SendOutcome;
  at: string;
  id: string;
  /** The event type, or the status's state. */
  what: string;
  commit?: string;
  attempts: number;
  reason?: string;
}

export interface LastDeployStatus {
  release?: string;
  commit?: string;
  /** The forge target its status went to, or why none did. */
  target?: string;
  id?: string;
  why?: string;
  /** The forge's page of the commit. */
  commitUrl?: string;
}

export interface NotifyState {
  targets: TargetOutcome[];
  failures: TargetOutcome[];
  lastDeploy?: LastDeployStatus;
}

const KEEP_FAILURES = 10;

function stateFile(layout: Layout, app: string): string {
  return path.join(layout.appState(app), 'notify-state.json');
}

export async function readNotifyState(layout: Layout, app: string): Promise<NotifyState> {
  const v = (await readJson(stateFile(layout, app)).catch(() => ({}))) as Partial<NotifyState>;
  return { targets: Array.isArray(v.targets) ? v.targets : [], failures: Array.isArray(v.failures) ? v.failures : [], ...(v.lastDeploy ? { lastDeploy: v.lastDeploy } : {}) };
}

/**
 * Read, change, write, under a lock (the sender and a deploy may note at once). Replaced
 * whole but not synced: it is what `toes webhook status` shows, and a power cut that rolls
 * it back loses no message (those are in the outbox); a sync would cost every deploy 10-20 ms.
 */
async function change(layout: Layout, app: string, edit: (s: NotifyState) => void): Promise<void> {
  const file = stateFile(layout, app);
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const lock = await acquireLock(`${file}.lock`, { command: 'notify state', waitMs: 15_000 });
  try {
    const s = await readNotifyState(layout, app);
    edit(s);
    await writeFileAtomic(file, JSON.stringify(s) + '\n', 0o600);
  } finally {
    await lock.release();
  }
}

export function noteTarget(layout: Layout, app: string, o: TargetOutcome): Promise<void> {
  return change(layout, app, (s) => {
    s.targets = [...s.targets.filter((t) => t.target !== o.target), o];
    if (o.outcome === 'failed' || o.outcome === 'dropped') s.failures = [...s.failures, o].slice(-KEEP_FAILURES);
  });
}

export function noteLastDeploy(layout: Layout, app: string, d: LastDeployStatus): Promise<void> {
  return change(layout, app, (s) => void (s.lastDeploy = d));
}
