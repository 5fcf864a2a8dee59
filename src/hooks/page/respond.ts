// Answers from the settings page: never cached, never sniffed, framed only by the page
// itself, the Toes dashboard (TOES_URL) and this machine's names.
import type { ServerResponse } from 'node:http';

/** Who may frame the page: itself, the Toes dashboard (TOES_URL) and this machine's names. */
let frameAncestors = "'self' http://localhost:* http://127.0.0.1:* http://*.local:* https://*.local:*";
export function allowFraming(toesUrl?: string): void {
  try {
    if (toesUrl) frameAncestors += ` ${new URL(toesUrl).origin}`;
  } catch {}
}

export function send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    // Belt and braces: a login link's token is in a fragment, which no Referer carries anyway.
    'referrer-policy': 'no-referrer',
    // The Toes dashboard shows the page in an iframe; nothing else needs to frame it.
    'content-security-policy': `default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors ${frameAncestors}`,
    ...extra,
  });
  res.end(body);
}

export const json = (res: ServerResponse, status: number, value: object) => send(res, status, 'application/json', JSON.stringify(value));
