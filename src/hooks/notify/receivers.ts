// The receivers `toes notify` names, per app or global (-g): a URL and the `whsec_` secret
// it verifies events with. One small JSON file each (rev/apps/<app>/notify.json,
// rev/notify.json), mode 0600: a receiver's URL may itself be a secret (an ntfy topic, a
// chat webhook's path), so it is shown masked and never logged.
import { randomBytes } from 'node:crypto';
import { RevError } from '../../errors.js';
import { readJson, updateJson } from '../../releases/settings/files.js';
import type { Scope } from '../../releases/settings/load.js';
import type { Layout } from '../../releases/paths.js';
import { newSecret } from '../serve/webhook-state.js';
import { receiversFile } from './paths.js';

export interface Receiver {
  id: string;
  url: string;
  secret: string;
  createdAt: string;
  global: boolean;
}

export type ReceiverKind = 'webhook' | 'ntfy';

export { receiversFile } from './paths.js';

const MAX_RECEIVERS = 20;

/** What a URL is: an ntfy server (ntfy://host/topic, or ntfy.sh), else a Standard Webhooks receiver. */
export function receiverKind(url: string): ReceiverKind {
  const u = new URL(url);
  return u.protocol === 'ntfy:' || u.host === 'ntfy.sh' ? 'ntfy' : 'webhook';
}

/** Checks a receiver URL as given; one sentence when it will not do. */
export function checkReceiverUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new RevError('USAGE', `"${mask(raw)}" is not a URL; give the receiver as https://host/path (or ntfy://host/topic).`);
  }
  if (!['https:', 'http:', 'ntfy:'].includes(u.protocol)) throw new RevError('USAGE', `A receiver URL starts with https://, http:// or ntfy://, not ${u.protocol}//.`);
  if (u.username || u.password) throw new RevError('USAGE', 'A receiver URL cannot carry a user or password; events are signed with the secret `toes notify add` prints instead.');
  if (receiverKind(raw) === 'ntfy' && u.pathname.split('/').filter(Boolean).length !== 1) throw new RevError('USAGE', 'An ntfy URL names one topic: ntfy://host/topic or https://ntfy.sh/topic.');
  return u.href;
}

/** A URL as it may be shown: its scheme and host, the rest (which may be a secret) elided. */
export function mask(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return '…';
  }
}

function parse(v: Record<string, unknown>, global: boolean): Receiver[] {
  const list = Array.isArray(v.receivers) ? v.receivers : [];
  return list
    .filter((r): r is Receiver => !!r && typeof r.id === 'string' && typeof r.url === 'string' && typeof r.secret === 'string')
    .map((r) => ({ id: r.id, url: r.url, secret: r.secret, createdAt: String(r.createdAt ?? ''), global }));
}

export async function readReceivers(layout: Layout, scope: Scope): Promise<Receiver[]> {
  return parse(await readJson(receiversFile(layout, scope)), scope.global);
}

/** The app's receivers and the global ones, each once. */
export async function receiversOf(layout: Layout, app: string): Promise<Receiver[]> {
  const [own, global] = await Promise.all([readReceivers(layout, { global: false, app }), readReceivers(layout, { global: true })]);
  return [...own, ...global];
}

export async function addReceiver(layout: Layout, scope: Scope, url: string, now = new Date()): Promise<Receiver> {
  const href = checkReceiverUrl(url);
  let added: Receiver | undefined;
  await updateJson(receiversFile(layout, scope), (v) => {
    const list = parse(v, scope.global);
    if (list.length >= MAX_RECEIVERS) throw new RevError('USAGE', `There are ${MAX_RECEIVERS} receivers already; remove one with \`toes notify remove\` first.`);
    const same = list.find((r) => r.url === href);
    if (same) {
      added = same;
      return;
    }
    added = { id: `n_${randomBytes(4).toString('hex')}`, url: href, secret: newSecret(), createdAt: now.toISOString(), global: scope.global };
    v.receivers = [...list, added].map(({ global: _g, ...r }) => r) as never;
  });
  return added!;
}

/** Removes by id or by URL; false when none matched. */
export async function removeReceiver(layout: Layout, scope: Scope, which: string): Promise<boolean> {
  let removed = false;
  await updateJson(receiversFile(layout, scope), (v) => {
    const list = parse(v, scope.global);
    const kept = list.filter((r) => r.id !== which && r.url !== which);
    removed = kept.length !== list.length;
    v.receivers = kept.map(({ global: _g, ...r }) => r) as never;
  });
  return removed;
}
