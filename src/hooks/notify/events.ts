// What a deploy's outcome says to the outside, as data: the commit status for the forge and
// the events for receivers, in Standard Webhooks' payload shape ({type, timestamp, data}),
// and how an event reads as an ntfy notification (ntfy's JSON publishing: topic, title,
// message, priority, tags, click; docs.ntfy.sh/publish/#publish-as-json). No I/O.
import { createHash } from 'node:crypto';
import type { OpResult } from '../../activate/result.js';
import { standardSignature } from '../serve/verify.js';
import { clip, type CommitStatus, type HttpRequest, type StatusState } from './forge-status.js';
import { receiverKind, type Receiver } from './receivers.js';

export type EventType = 'deploy.started' | 'deploy.succeeded' | 'deploy.failed' | 'deploy.rolled_back' | 'delivery.refused' | 'notify.test';

export interface EventData {
  app: string;
  release?: string;
  commit?: string;
  version?: string;
  reason?: string;
  trigger?: string;
  previous?: string;
  /** The settings page's view of the app, when webhook.url makes it reachable. */
  url?: string;
  [more: string]: unknown;
}

export interface DeployEvent {
  type: EventType;
  /** ISO 8601, as Standard Webhooks' examples have it. */
  timestamp: string;
  data: EventData;
}

/** Stages whose failure is about getting the source, not about the commit: `error`, not `failure`. */
const NOT_THE_COMMIT = new Set(['lock', 'recover', 'resolve', 'probe', 'fetch']);

function stateOf(r: OpResult): StatusState {
  if (r.ok) return 'success';
  if (r.error?.code === 'INTERNAL' || r.error?.code === 'INTERRUPTED' || NOT_THE_COMMIT.has(r.failedStage ?? '')) return 'error';
  return 'failure';
}

function rolledBack(r: OpResult): boolean {
  return !r.ok && r.error?.code === 'UNHEALTHY';
}

/** The final status of a deploy's commit, or undefined when the deploy never knew its commit. */
export function finalStatus(r: OpResult, sha: string | undefined, targetUrl?: string): CommitStatus | undefined {
  if (!sha) return undefined;
  const state = stateOf(r);
  const description = r.ok
    ? r.unchanged
      ? `Already live on ${r.app} (release ${r.release}).`
      : `Live on ${r.app} as release ${r.release}.`
    : `${r.error?.message ?? 'The deploy failed.'}`;
  return { sha, state, description: clip(description), context: `toes/${r.app}`, ...(targetUrl ? { targetUrl } : {}) };
}

export function pendingStatus(app: string, sha: string, targetUrl?: string): CommitStatus {
  return { sha, state: 'pending', description: `Deploying to ${app}.`, context: `toes/${app}`, ...(targetUrl ? { targetUrl } : {}) };
}

/** The events an ended deploy or rollback posts. An automatic flip-back is a failed deploy and a rollback. */
export function outcomeEvents(r: OpResult, trigger: string, at: Date, url?: string): DeployEvent[] {
  const timestamp = at.toISOString();
  const base: EventData = { app: r.app, release: r.release, commit: r.commit, version: r.version, trigger, ...(r.previous ? { previous: r.previous } : {}), ...(url ? { url } : {}) };
  if (r.op === 'rollback') {
    if (!r.ok) return [{ type: 'deploy.failed', timestamp, data: { ...base, reason: r.error?.message, code: r.error?.code, rollback: true } }];
    if (r.unchanged) return [];
    return [{ type: 'deploy.rolled_back', timestamp, data: { ...base, reason: `rolled back by ${trigger}`, automatic: false } }];
  }
  if (r.ok) return [{ type: 'deploy.succeeded', timestamp, data: { ...base, unchanged: !!r.unchanged } }];
  const failed: DeployEvent = { type: 'deploy.failed', timestamp, data: { ...base, reason: r.error?.message, code: r.error?.code, stage: r.failedStage } };
  if (!rolledBack(r)) return [failed];
  return [failed, { type: 'deploy.rolled_back', timestamp, data: { ...base, release: r.previous, reason: r.error?.message, automatic: true } }];
}

export function startedEvent(app: string, trigger: string, at: Date, commit?: string): DeployEvent {
  return { type: 'deploy.started', timestamp: at.toISOString(), data: { app, trigger, ...(commit ? { commit } : {}) } };
}

export function refusedEvent(app: string, reason: string, status: number | undefined, suppressed: number, at: Date): DeployEvent {
  return { type: 'delivery.refused', timestamp: at.toISOString(), data: { app, reason, ...(status ? { status } : {}), ...(suppressed ? { suppressed } : {}) } };
}

/** A Standard Webhooks delivery of `body`: the same id on every attempt, the attempt's own time and signature. */
export function signedRequest(url: string, id: string, body: string, secret: string, nowS: number): HttpRequest {
  const sig = standardSignature(secret, id, nowS, Buffer.from(body)).toString('base64');
  return {
    url,
    headers: { 'content-type': 'application/json', 'user-agent': 'toes-rev', 'webhook-id': id, 'webhook-timestamp': String(nowS), 'webhook-signature': `v1,${sig}` },
    body,
  };
}

const short = (v: string | undefined) => (v && /^[0-9a-f]{40,64}$/.test(v) ? v.slice(0, 10) : v);

/** Title and text a person reads on a phone. */
export function readable(e: DeployEvent): { title: string; message: string; priority: number; tags: string[] } {
  const d = e.data;
  const at = d.commit ? ` (${short(d.commit)})` : '';
  switch (e.type) {
    case 'deploy.started':
      return { title: `${d.app}: deploying`, message: `A deploy of ${d.app}${at} started (${d.trigger}).`, priority: 2, tags: ['hourglass'] };
    case 'deploy.succeeded':
      return { title: `${d.app}: live`, message: `${d.app} is live as release ${d.release}${at}.`, priority: 3, tags: ['white_check_mark'] };
    case 'deploy.failed':
      return { title: `${d.app}: deploy failed`, message: `${d.reason ?? 'The deploy failed.'}${at ? ` Commit${at}.` : ''}`, priority: 4, tags: ['x'] };
    case 'deploy.rolled_back':
      return { title: `${d.app}: rolled back`, message: `${d.app} is back on release ${d.release ?? '?'}: ${d.reason ?? ''}`.trim(), priority: d.automatic ? 4 : 3, tags: ['rewind'] };
    case 'notify.test':
      return { title: `${d.app}: test`, message: 'A test notification from toes: this receiver works.', priority: 3, tags: ['bell'] };
    default:
      return { title: `${d.app}: webhook refused`, message: `A delivery to ${d.app} was refused: ${d.reason ?? ''}`.trim(), priority: 4, tags: ['warning'] };
  }
}

/** ntfy's JSON publishing: POST to the server's root with the topic in the body. */
export function ntfyRequest(receiverUrl: string, e: DeployEvent, id: string): HttpRequest {
  const u = new URL(receiverUrl);
  const loopback = /^(localhost|127\.[\d.]+|\[::1\])$/.test(u.hostname);
  const scheme = u.protocol === 'ntfy:' ? (loopback ? 'http:' : 'https:') : u.protocol;
  const root = `${scheme}//${u.host}/`;
  const topic = u.pathname.split('/').filter(Boolean)[0];
  const r = readable(e);
  const body = { topic, title: r.title, message: r.message, priority: r.priority, tags: r.tags, ...(e.data.url ? { click: e.data.url } : {}) };
  // ntfy has no idempotency key; the id goes along so a person can match it with the log.
  return { url: root, headers: { 'content-type': 'application/json', 'user-agent': 'toes-rev', 'x-toes-event-id': id }, body: JSON.stringify(body) };
}

/** The request that carries an event to a receiver: ntfy's JSON, else a signed webhook of `body` (the event's bytes as kept). */
export function receiverRequest(r: Receiver, e: DeployEvent, body: string, id: string, nowS: number): HttpRequest {
  return receiverKind(r.url) === 'ntfy' ? ntfyRequest(r.url, e, id) : signedRequest(r.url, id, body, r.secret, nowS);
}

/** A stable, short name for a lane of messages that must arrive in order. */
export function laneOf(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 16);
}
