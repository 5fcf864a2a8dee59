// What `toes webhook status`, `toes notify list` and the settings page show of statuses and
// events: where an app's statuses go (or why nowhere), its receivers (URLs masked), the last
// outcome per target and the last failures with their reason. Never a token or a secret.
import { readLog } from '../../releases/log.js';
import type { Layout } from '../../releases/paths.js';
import { commitUrl, forgeOf } from './forge.js';
import { list } from './outbox.js';
import { readNotifyState, type LastDeployStatus, type TargetOutcome } from './outcomes.js';
import { mask, receiverKind, receiversOf } from './receivers.js';
import { statusTarget } from './record.js';

export interface NotifyStatus {
  /** Where commit statuses go ("github me/app"), or why they are off. */
  statuses: { target: string | null; api?: string; why?: string };
  receivers: { id: string; kind: string; url: string; global: boolean }[];
  /** The last outcome per target (a forge, a receiver). */
  outcomes: TargetOutcome[];
  failures: TargetOutcome[];
  /** Messages of this app still in the outbox. */
  waiting: number;
  lastDeploy: (LastDeployStatus & { outcome?: TargetOutcome }) | null;
}

export async function notifyStatus(layout: Layout, app: string): Promise<NotifyStatus> {
  const [target, receivers, state, queued] = await Promise.all([statusTarget(layout, app), receiversOf(layout, app), readNotifyState(layout, app), list(layout)]);
  return {
    statuses: target.forge ? { target: `${target.forge.kind} ${target.forge.repo}`, api: target.forge.api } : { target: null, why: target.why },
    receivers: receivers.map((r) => ({ id: r.id, kind: receiverKind(r.url), url: mask(r.url), global: r.global })),
    outcomes: state.targets,
    failures: state.failures,
    waiting: queued.filter((i) => i.app === app).length,
    lastDeploy: lastDeployOf(state),
  };
}

function lastDeployOf(state: Awaited<ReturnType<typeof readNotifyState>>): NotifyStatus['lastDeploy'] {
  const d = state.lastDeploy;
  if (!d) return null;
  // The target's last outcome is this deploy's when it is about its commit.
  const outcome = d.target ? state.targets.find((t) => t.target === d.target && t.commit === d.commit) : undefined;
  return { ...d, ...(outcome ? { outcome } : {}) };
}

/** For the page's "Last deploy": where its commit status was sent and what became of it, or why it went nowhere. */
export async function lastDeployNotice(layout: Layout, app: string): Promise<NotifyStatus['lastDeploy']> {
  return lastDeployOf(await readNotifyState(layout, app));
}

/** For the page's release list: each release's commit on its forge, by release id (releases without a commit or a known forge are left out). */
export async function releaseCommitUrls(layout: Layout, app: string): Promise<Record<string, string>> {
  const [choice, releases] = await Promise.all([forgeOf(layout, app), readLog(layout.releaseLog(app))]);
  if (!choice.forge) return {};
  const out: Record<string, string> = {};
  for (const r of releases) if (r.commit && /^[0-9a-f]{7,64}$/.test(r.commit)) out[r.id] = commitUrl(choice.forge, r.commit);
  return out;
}
