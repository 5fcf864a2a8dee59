// Turns a deploy's start and end into outbox messages: a commit status for the forge (when
// the forge and a FORGE_TOKEN for it are known) and an event for each receiver. Called by
// the daemon's scheduler and runner and by `toes deploy` / `toes rollback`, never by the
// deploy flow itself; the messages are on disk when these return.
import type { OpResult } from '../../activate/result.js';
import { effectiveEnv, globalSettings } from '../../releases/settings/load.js';
import type { Layout } from '../../releases/paths.js';
import { finalStatus, laneOf, outcomeEvents, pendingStatus, startedEvent, type DeployEvent } from './events.js';
import { commitUrl, forgeOf, remember, type Forge } from './forge.js';
import { forgeToken, type CommitStatus } from './forge-status.js';
import { newItem, put, type OutboxItem } from './outbox.js';
import { noteLastDeploy } from './outcomes.js';
import { receiversOf } from './receivers.js';

/** What the webhook that asked for a deploy said about it. */
export interface Hint {
  format?: string;
  /** repository.html_url */
  repo?: string;
  commit?: string;
}

/** The app on the settings page, when webhook.url says where the page is reachable. */
export async function pageUrl(layout: Layout, app: string): Promise<string | undefined> {
  const base = (await globalSettings(layout)).webhookUrl;
  return base ? `${base.replace(/\/+$/, '')}/apps/${encodeURIComponent(app)}` : undefined;
}

export type StatusTarget = { forge: Forge } | { forge?: undefined; why: string };

/** Where the app's statuses go, or why they go nowhere. */
export async function statusTarget(layout: Layout, app: string, hint: Hint = {}): Promise<StatusTarget> {
  if (hint.repo) await remember(layout, app, hint.format, hint.repo);
  const choice = await forgeOf(layout, app, hint);
  if (!choice.forge) return { why: choice.why };
  if (!(await forgeToken(layout, app, choice.forge))) {
    const host = new URL(choice.forge.api).host;
    const some = (await effectiveEnv(layout, app)).FORGE_TOKEN;
    return {
      why: some
        ? `the FORGE_TOKEN set is not for ${host}: if it is, say so with \`toes env set ${app} FORGE_TOKEN --host ${host}\``
        : `no FORGE_TOKEN for ${host}: set one with \`toes env set ${app} FORGE_TOKEN\` (read from stdin)`,
    };
  }
  return { forge: choice.forge };
}

function statusItem(app: string, forge: Forge, status: CommitStatus): OutboxItem {
  return newItem(app, laneOf('status', forge.api, forge.repo, status.sha, status.context), { kind: 'status', forge, status });
}

export async function eventItems(layout: Layout, app: string, events: DeployEvent[]): Promise<OutboxItem[]> {
  if (!events.length) return [];
  const receivers = await receiversOf(layout, app);
  return receivers.flatMap((r) => events.map((event) => newItem(app, laneOf('event', r.global ? 'global' : app, r.id), { kind: 'event', receiver: r.id, global: r.global, event, body: JSON.stringify(event) })));
}

/** A deploy starts: `pending` on the commit the webhook named, and deploy.started. */
export async function noteStarted(layout: Layout, app: string, o: { trigger: string; hint?: Hint; now?: Date }): Promise<number> {
  const hint = o.hint ?? {};
  const now = o.now ?? new Date();
  const url = await pageUrl(layout, app);
  const items: OutboxItem[] = [];
  if (hint.commit) {
    const t = await statusTarget(layout, app, hint);
    if (t.forge) items.push(statusItem(app, t.forge, pendingStatus(app, hint.commit, url)));
  }
  items.push(...(await eventItems(layout, app, [startedEvent(app, o.trigger, now, hint.commit)])));
  await put(layout, items);
  return items.length;
}

/**
 * A deploy or rollback ended: the final status of its commit (and of the commit the
 * webhook named, when the branch had moved on and another was deployed: its `pending`
 * must not stay), and the events. A rollback changes no commit's status.
 */
export async function noteOutcome(layout: Layout, r: OpResult, o: { trigger: string; hint?: Hint; now?: Date }): Promise<number> {
  const hint = o.hint ?? {};
  const url = await pageUrl(layout, r.app);
  const items: OutboxItem[] = [];
  if (r.op === 'deploy') {
    const shas = [...new Set([r.commit, hint.commit].filter((s): s is string => !!s))];
    const t = shas.length ? await statusTarget(layout, r.app, hint) : { why: 'the deploy has no commit (not a git source, or it failed before the fetch)' };
    if (t.forge) for (const sha of shas) items.push(statusItem(r.app, t.forge, finalStatus(r, sha, url)!));
    const sha = r.commit ?? hint.commit;
    const sent = t.forge ? { target: `${t.forge.kind} ${t.forge.repo}`, id: items[0]?.id, ...(sha ? { commitUrl: commitUrl(t.forge, sha) } : {}) } : { why: t.why };
    // Only for a deploy that got somewhere: a refused command line leaves no state behind.
    if (r.release || sha) await noteLastDeploy(layout, r.app, { release: r.release, commit: sha, ...sent }).catch(() => {});
  }
  items.push(...(await eventItems(layout, r.app, outcomeEvents(r, o.trigger, o.now ?? new Date(), url))));
  await put(layout, items);
  return items.length;
}
