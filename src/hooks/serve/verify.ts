// Verifying a webhook delivery against the app's secret, over the raw body bytes, for the
// three formats the design accepts. Pure: no I/O, the clock comes in as a parameter.
// Comparisons are constant-time. Nothing here ever puts a secret into a message.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type WebhookFormat = 'standard' | 'github' | 'gitea';

export type Verdict =
  | { ok: true; format: WebhookFormat; id?: string; event?: string; timestamp?: number }
  | { ok: false; status: 400 | 401; reason: string; kind: Failure };

/** Why a delivery failed, by what the sender must fix: its secret, its headers, or its clock. */
export type Failure = 'mismatch' | 'unsigned' | 'malformed' | 'stale';

/** Deliveries older or newer than this are refused (Standard Webhooks' replay window). */
export const TOLERANCE_S = 5 * 60;

type Headers = Record<string, string | string[] | undefined>;

function header(h: Headers, name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function hmac(key: Buffer | string, data: Buffer | string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A Standard Webhooks secret is `whsec_` + base64 of the key; anything else is used as is. */
export function secretKey(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret);
}

/** Standard Webhooks' v1 signature: HMAC-SHA256 over `id.timestamp.body` (signing out, verifying in). */
export function standardSignature(secret: string, id: string, ts: string | number, body: Buffer): Buffer {
  return hmac(secretKey(secret), Buffer.concat([Buffer.from(`${id}.${ts}.`), body]));
}

export function verifyWebhook(headers: Headers, body: Buffer, secret: string, nowS: number): Verdict {
  const id = header(headers, 'webhook-id');
  const ts = header(headers, 'webhook-timestamp');
  const sig = header(headers, 'webhook-signature');
  if (id !== undefined || sig !== undefined) {
    if (!id || !ts || !sig) return { ok: false, status: 400, reason: 'a Standard Webhooks delivery needs webhook-id, webhook-timestamp and webhook-signature', kind: 'malformed' };
    const t = Number(ts);
    if (!/^\d{1,12}$/.test(ts)) return { ok: false, status: 400, reason: 'webhook-timestamp is not a number of seconds', kind: 'malformed' };
    if (Math.abs(nowS - t) > TOLERANCE_S) return { ok: false, status: 401, reason: 'webhook-timestamp is outside the 5-minute window (a replay, or a clock that is off)', kind: 'stale' };
    const expected = standardSignature(secret, id, ts, body);
    // Several signatures may be sent (key rotation); any v1 match will do.
    const match = sig.split(' ').some((part) => {
      const [version, value] = part.split(',', 2);
      return version === 'v1' && !!value && sameBytes(Buffer.from(value, 'base64'), expected);
    });
    return match ? { ok: true, format: 'standard', id, timestamp: t } : { ok: false, status: 401, reason: 'the webhook-signature does not match this app\'s secret', kind: 'mismatch' };
  }
  const gh = header(headers, 'x-hub-signature-256');
  if (gh !== undefined) {
    const m = /^sha256=([0-9a-f]{64})$/i.exec(gh);
    if (!m) return { ok: false, status: 401, reason: 'X-Hub-Signature-256 is not of the form sha256=<hex>', kind: 'malformed' };
    const good = sameBytes(Buffer.from(m[1], 'hex'), hmac(secret, body));
    return good
      ? { ok: true, format: 'github', id: header(headers, 'x-github-delivery'), event: header(headers, 'x-github-event') }
      : { ok: false, status: 401, reason: 'X-Hub-Signature-256 does not match this app\'s secret', kind: 'mismatch' };
  }
  const gitea = header(headers, 'x-forgejo-signature') ?? header(headers, 'x-gitea-signature');
  if (gitea !== undefined) {
    if (!/^[0-9a-f]{64}$/i.test(gitea)) return { ok: false, status: 401, reason: 'the Gitea/Forgejo signature is not a hex HMAC-SHA256', kind: 'malformed' };
    const good = sameBytes(Buffer.from(gitea, 'hex'), hmac(secret, body));
    return good
      ? {
          ok: true,
          format: 'gitea',
          id: header(headers, 'x-forgejo-delivery') ?? header(headers, 'x-gitea-delivery'),
          event: header(headers, 'x-forgejo-event') ?? header(headers, 'x-gitea-event'),
        }
      : { ok: false, status: 401, reason: 'the Gitea/Forgejo signature does not match this app\'s secret', kind: 'mismatch' };
  }
  return { ok: false, status: 401, reason: 'the delivery is not signed (no webhook-signature, X-Hub-Signature-256 or X-Gitea/X-Forgejo-Signature header)', kind: 'unsigned' };
}
