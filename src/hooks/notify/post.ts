// One HTTP POST to a receiver or a forge, guarded against the receiver: a deadline for the
// whole exchange, no redirects followed (a token must not follow one to another host, and
// a receiver that moved should be given its new URL), and at most a few KiB of the answer
// read. What comes back is data: delivered, worth another try later, or refused for good.
import type { HttpRequest } from './forge-status.js';

export type Attempt = { ok: true; status: number } | { ok: false; retry: boolean; status?: number; reason: string };

export const TIMEOUT_MS = 10_000;
const READ_MAX = 8 * 1024;

/** Reads at most READ_MAX bytes of the answer, then lets go of it. */
async function head(res: Response): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < READ_MAX) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, READ_MAX).toString('utf8');
}

/** What an answer's body says, in a few words: a forge's `message`, else its first line. */
function said(text: string, secrets: string[]): string {
  let s = text;
  try {
    const v = JSON.parse(text);
    if (v && typeof v.message === 'string') s = v.message;
    else if (v && typeof v.error === 'string') s = v.error;
  } catch {}
  for (const x of secrets) if (x) s = s.split(x).join('…');
  return s.replace(/\s+/g, ' ').trim().slice(0, 160);
}

/** Statuses no later attempt will change (the request itself is wrong, or not allowed). */
function permanent(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 425 && status !== 429;
}

/** `cancel` ends the exchange early (a sender stopping). */
export async function post(req: HttpRequest, secrets: string[] = [], timeoutMs = TIMEOUT_MS, cancel?: AbortSignal): Promise<Attempt> {
  let res: Response;
  const deadline = AbortSignal.timeout(timeoutMs);
  try {
    res = await fetch(req.url, { method: 'POST', headers: req.headers, body: req.body, redirect: 'manual', signal: cancel && AbortSignal.any ? AbortSignal.any([deadline, cancel]) : deadline });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const why = e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${timeoutMs / 1000} s` : `could not connect (${e.cause?.code ?? e.message})`;
    return { ok: false, retry: true, reason: why };
  }
  const text = await head(res).catch(() => '');
  if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
  if (res.status >= 300 && res.status < 400) {
    return { ok: false, retry: false, status: res.status, reason: `answered ${res.status}, a redirect, which is not followed; give the URL it leads to` };
  }
  const detail = said(text, secrets);
  return { ok: false, retry: !permanent(res.status), status: res.status, reason: `answered ${res.status}${detail ? `: ${detail}` : ''}` };
}
