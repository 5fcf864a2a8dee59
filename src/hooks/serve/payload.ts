// What a verified delivery asks for. Only three answers matter to the queue: a push (to
// some ref), a ping, or anything else (acknowledged and ignored). Bodies are JSON, or the
// form encoding (`payload=<json>`) that GitHub's and Gitea's settings still offer.
import type { WebhookFormat } from './verify.js';

/** `deleted`: the push removes its ref (GitHub's flag, or an `after` of zeros). */
export type Intent = { kind: 'push'; ref?: string; commit?: string; repo?: string; deleted: boolean } | { kind: 'ping' } | { kind: 'other'; name: string };

export type MediaType = 'json' | 'form';

type Headers = Record<string, string | string[] | undefined>;

/** The body's media type from Content-Type, or undefined when it is not one we read. */
export function mediaType(contentType: string | undefined): MediaType | undefined {
  const base = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (base === 'application/json' || (base.startsWith('application/') && base.endsWith('+json'))) return 'json';
  if (base === 'application/x-www-form-urlencoded') return 'form';
  return undefined;
}

const FROM_GITEA = ['x-gitea-event', 'x-gitea-signature', 'x-forgejo-event', 'x-forgejo-signature', 'x-gogs-event'];

/**
 * The bytes a delivery's signature covers, and how to read them. GitHub signs the form
 * body it sends; Gitea and Forgejo sign the JSON and then send it form-encoded
 * (services/webhook/deliver.go), so theirs is unwrapped first. What is verified is then
 * exactly what is read: the form's other fields, signed by no one, are never looked at.
 * A Gitea form without a payload field is left whole, to fail the signature check.
 */
export function signedBody(headers: Headers, type: MediaType, body: Buffer): { type: MediaType; body: Buffer } {
  if (type !== 'form' || !FROM_GITEA.some((h) => headers[h] !== undefined)) return { type, body };
  const payload = new URLSearchParams(body.toString('utf8')).get('payload');
  return payload === null ? { type, body } : { type: 'json', body: Buffer.from(payload, 'utf8') };
}

function parseBody(type: MediaType, body: Buffer): Record<string, unknown> {
  let text = body.toString('utf8');
  if (type === 'form') {
    const payload = new URLSearchParams(text).get('payload');
    if (payload === null) throw new Error('a form-encoded delivery has no payload field');
    text = payload;
  }
  const v = JSON.parse(text);
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('the body is JSON but not an object');
  return v;
}

const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);

/** A commit id of zeros is how git (and so GitHub, Gitea and Forgejo) says "no commit". */
const isZeros = (v: unknown) => typeof v === 'string' && /^0+$/.test(v);

/** Throws with a short reason when the body cannot be read. */
export function readIntent(format: WebhookFormat, event: string | undefined, type: MediaType, body: Buffer): Intent {
  const b = parseBody(type, body);
  if (format === 'standard') {
    const t = str(b.type);
    if (t === 'save' || t === 'merge') return { kind: 'push', ref: str(b.ref), commit: str(b.commit), deleted: false };
    if (t === 'ping' || t === 'webhook.test') return { kind: 'ping' };
    return { kind: 'other', name: t ?? 'untyped' };
  }
  if (event === 'ping') return { kind: 'ping' };
  if (event === 'push' || (event === undefined && typeof b.ref === 'string')) {
    const repo = b.repository && typeof b.repository === 'object' ? str((b.repository as Record<string, unknown>).html_url) : undefined;
    return { kind: 'push', ref: str(b.ref), commit: str(b.after), repo, deleted: b.deleted === true || isZeros(b.after) };
  }
  return { kind: 'other', name: event ?? 'untyped' };
}
