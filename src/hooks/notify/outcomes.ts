// What became of each app's statuses and events, for `toes webhook status` and the page:
// the last outcome per target, the last failures with their reason, and where the last
// deploy's status went (rev/apps/<app>/notify-state.json). Written by whoever records a
// deploy and by the sender, under the settings lock.
import path from 'node:path';
import { readJson, updateJson } from '../../releases/settings.js';
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

export async function noteTarget(layout: Layout, app: string, o: TargetOutcome): Promise<void> {
  await updateJson(stateFile(layout, app), (v) => {
    const s = v as unknown as NotifyState;
    s.targets = [...(Array.isArray(s.targets) ? s.targets : []).filter((t) => t.target !== o.target), o];
    if (o.outcome === 'failed' || o.outcome === 'dropped') s.failures = [...(Array.isArray(s.failures) ? s.failures : []), o].slice(-KEEP_FAILURES);
  });
}

export async function noteLastDeploy(layout: Layout, app: string, d: LastDeployStatus): Promise<void> {
  await updateJson(stateFile(layout, app), (v) => {
    (v as unknown as NotifyState).lastDeploy = d;
  });
}
