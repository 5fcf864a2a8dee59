// What `toes webhook status` (and later the settings page) shows for an app: whether
// deliveries are accepted, the URL to give the host, whether the daemon runs, the last
// deliveries and the last deploy. Never the secret.
import { readLog } from '../../releases/log.js';
import { globalSettings } from '../../releases/settings/load.js';
import type { Layout } from '../../releases/paths.js';
import { readDeliveries, refusedSince, type Delivery } from './deliveries.js';
import { readInstance, relayHookUrl, relayUrl } from './relay-link/instance.js';
import { readLinkState, type LinkState } from './relay-link/link-state.js';
import { DEFAULT_HOST, DEFAULT_PORT, runningDaemon, type ServeInfo } from './serve-info.js';
import { readWebhook } from './webhook-state.js';

export interface WebhookStatus {
  app: string;
  enabled: boolean;
  url: string;
  /** The URL only reaches this machine: hosts on the internet cannot deliver to it. */
  local: boolean;
  daemon: ServeInfo | null;
  /** The relay link, when this server uses a relay it is registered with. */
  relay: (LinkState & { url: string }) | null;
  deliveries: Delivery[];
  /**
   * Deliveries refused in the last hour that the sender's owner must act on (a wrong or
   * missing signature, webhooks off), with the newest one's reason and what to do. Through
   * a relay the sender was answered 202, so this is where such a refusal shows.
   */
  refused: Refusals | null;
  lastDeploy: { release: string; version: string; status: string; at: string; trigger: string; error?: string } | null;
}

export interface Refusals {
  /** At most the 30 or so the delivery log keeps. */
  count: number;
  reason: string;
  at: string;
}

/** Refusals a sender cannot fix by retrying: its signature (401, 400) or webhooks off (403). */
const SENDER_MUST_ACT = [400, 401, 403];
export const REFUSALS_WINDOW_MS = 3_600_000;

async function recentRefusals(layout: Layout, app: string, now: number): Promise<Refusals | null> {
  const list = await refusedSince(layout, app, now - REFUSALS_WINDOW_MS, SENDER_MUST_ACT);
  const last = list.at(-1);
  return last ? { count: list.length, reason: last.reason ?? `refused with ${last.status}`, at: last.at } : null;
}

/** Where hosts should send the app's webhooks. */
export async function hookUrl(layout: Layout, app: string, daemon?: ServeInfo): Promise<{ url: string; local: boolean }> {
  const configured = (await globalSettings(layout)).webhookUrl;
  const base = configured ? configured.replace(/\/+$/, '') : (daemon?.url ?? `http://${DEFAULT_HOST}:${DEFAULT_PORT}`);
  let local = true;
  try {
    const h = new URL(base).hostname.replace(/^\[|\]$/g, '');
    local = h === 'localhost' || h === '::1' || h.startsWith('127.');
  } catch {}
  return { url: `${base}/hooks/${encodeURIComponent(app)}`, local };
}

export async function webhookStatus(layout: Layout, app: string, deliveriesShown = 10, now = Date.now()): Promise<WebhookStatus> {
  const [hook, daemon, deliveries, refused, log] = await Promise.all([
    readWebhook(layout, app),
    runningDaemon(layout),
    readDeliveries(layout, app, deliveriesShown),
    recentRefusals(layout, app, now),
    readLog(layout.releaseLog(app)),
  ]);
  let { url, local } = await hookUrl(layout, app, daemon);
  let relay: WebhookStatus['relay'] = null;
  const want = await relayUrl(layout).catch(() => undefined);
  const inst = want ? await readInstance(layout) : undefined;
  if (inst && inst.relay === want) {
    url = relayHookUrl(inst, app);
    local = false;
    const link = daemon ? await readLinkState(layout) : undefined;
    relay = { url: inst.relay, relay: inst.relay, instance: inst.id, connected: !!link?.connected, since: link?.since ?? '', pending: Number(link?.pending ?? 0), ...(link?.lastError ? { lastError: link.lastError } : {}) };
  }
  // The log is in the order deploys began; adopted releases were not deploys.
  const last = log.filter((r) => r.kind !== 'adopted').pop();
  return {
    app,
    enabled: !!hook?.enabled,
    url,
    local,
    daemon: daemon ?? null,
    relay,
    deliveries,
    refused,
    lastDeploy: last
      ? { release: last.id, version: last.version, status: last.status, at: last.finishedAt ?? last.createdAt, trigger: last.trigger, ...(last.error ? { error: last.error.message } : {}) }
      : null,
  };
}
