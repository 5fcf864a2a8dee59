// What a verified delivery asks for. Only three answers matter to the queue: a push (to
// some ref), a ping, or anything else (acknowledged and ignored). Bodies are JSON, or
// GitHub's form encoding (`payload=<json>`), which its settings still offer.
import type { WebhookFormat } from './verify.js';

export type Intent = { kind: 'push'; ref?: string; commit?: string } | { kind: 'ping' } | { kind: 'other'; name: string };

export type MediaType = 'json' | 'form';

/** The body's media type from Content-Type, or undefined when it is not one we read. */
export function mediaType(contentType: string | undefined): MediaType | undefined {
  const base = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (base === 'application/json' || (base.startsWith('application/') && base.endsWith('+json'))) return 'json';
  if (base === 'application/x-www-form-urlencoded') return 'form';
  return undefined;
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

/** Throws with a short reason when the body cannot be read. */
export function readIntent(format: WebhookFormat, event: string | undefined, type: MediaType, body: Buffer): Intent {
  const b = parseBody(type, body);
  if (format === 'standard') {
    const t = str(b.type);
    if (t === 'save' || t === 'merge' || t === 'push') return { kind: 'push', ref: str(b.ref), commit: str(b.commit) };
    if (t === 'ping' || t === 'webhook.test') return { kind: 'ping' };
    return { kind: 'other', name: t ?? 'untyped' };
  }
  if (event === 'ping') return { kind: 'ping' };
  if (event === 'push' || (event === undefined && typeof b.ref === 'string')) return { kind: 'push', ref: str(b.ref), commit: str(b.after) };
  return { kind: 'other', name: event ?? 'untyped' };
}

/** `main`, `heads/main` and `refs/heads/main` name one branch. */
export function fullRef(ref: string): string {
  if (ref.startsWith('refs/')) return ref;
  if (ref.startsWith('heads/') || ref.startsWith('tags/')) return `refs/${ref}`;
  return `refs/heads/${ref}`;
}
