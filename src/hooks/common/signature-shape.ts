// Whether a webhook carries a signature header of a format the instance verifies. The
// relay has no app secret, so it cannot check a signature; it can refuse what no host
// would ever send (no signature at all, or one of the wrong shape), so junk posted to a
// relay URL is not stored and cannot take the room of real deliveries.
type Headers = Record<string, string | string[] | undefined>;

export type SignatureFormat = 'standard' | 'github' | 'gitea';

function one(h: Headers, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

const HEX_SHA256 = /^[0-9a-f]{64}$/i;
/** Base64 of 32 bytes (an HMAC-SHA256). */
const B64_SHA256 = /^[A-Za-z0-9+/]{43}=$/;

/** The format whose signature headers are all there and well-formed, or undefined. Names are lowercase, as node:http gives them. */
export function signatureFormat(h: Headers): SignatureFormat | undefined {
  const id = one(h, 'webhook-id');
  const ts = one(h, 'webhook-timestamp');
  const sig = one(h, 'webhook-signature');
  if (id && id.length <= 256 && ts && /^\d{1,12}$/.test(ts) && sig) {
    // Several signatures may be sent, space-separated (key rotation); one v1 will do.
    if (sig.split(' ').some((part) => part.startsWith('v1,') && B64_SHA256.test(part.slice(3)))) return 'standard';
  }
  if (/^sha256=[0-9a-f]{64}$/i.test(one(h, 'x-hub-signature-256') ?? '')) return 'github';
  if (HEX_SHA256.test(one(h, 'x-gitea-signature') ?? '') || HEX_SHA256.test(one(h, 'x-forgejo-signature') ?? '')) return 'gitea';
  return undefined;
}
