// Small loopback servers speaking what toes-rev's statuses and events are sent to, each as
// its documentation defines it, and checking what they are sent with code written here
// from those documents (not with toes-rev's own):
// - GitHub: POST /repos/{owner}/{repo}/statuses/{sha}, a token in Authorization, JSON with
//   state (error|failure|pending|success), target_url, description, context; 201, or 401
//   (bad credentials), 404 (no such repository), 422 (validation failed).
// - Forgejo/Gitea: the same under /api/v1, `Authorization: token …`.
// - GitLab: POST /api/v4/projects/{id}/statuses/{sha}, PRIVATE-TOKEN, state (pending|running|
//   success|failed|canceled), name; 201, 401, 404, 400 for a bad state.
// - A Standard Webhooks receiver: verifies webhook-signature (v1, HMAC-SHA256 of
//   id.timestamp.body with the base64 key of whsec_…) and records each delivery.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import type { TestContext } from 'node:test';
import { serve } from '../../fixtures/serve.js';

export interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
  status: number;
}

export interface ForgeServer {
  url: string;
  seen: Seen[];
  /** Answers to give, in order, before the documented ones (e.g. [500] for one failure). */
  script: number[];
  waitFor(pred: (s: Seen) => boolean, what: string, timeoutMs?: number): Promise<Seen>;
}

export type ForgeKind = 'github' | 'forgejo' | 'gitlab';

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let b = '';
    req.on('data', (d) => (b += d));
    req.on('end', () => resolve(b));
  });
}

async function until<T>(find: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = find();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A forge holding one repository, `owner/repo`, writable with `token`. */
export async function forgeServer(t: TestContext, kind: ForgeKind, o: { token: string; repo: string; prefix?: string }): Promise<ForgeServer> {
  const seen: Seen[] = [];
  const script: number[] = [];
  const prefix = o.prefix ?? (kind === 'github' ? '' : kind === 'gitlab' ? '/api/v4' : '/api/v1');
  const url = await serve(t, async (req, res) => {
    const body = await readBody(req);
    let json: any;
    try {
      json = JSON.parse(body);
    } catch {}
    const answer = (status: number, v: object) => {
      seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: json, status });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(v));
    };
    const scripted = script.shift();
    if (scripted) return answer(scripted, { message: 'scripted answer' });
    const p = (req.url ?? '').slice(prefix.length);
    const m = kind === 'gitlab' ? /^\/projects\/([^/]+)\/statuses\/([0-9a-f]{40})$/.exec(p) : /^\/repos\/([^/]+)\/([^/]+)\/statuses\/([0-9a-f]{40})$/.exec(p);
    if (req.method !== 'POST' || !m) return answer(404, { message: 'Not Found' });
    const auth = kind === 'gitlab' ? req.headers['private-token'] : req.headers.authorization;
    const good = kind === 'gitlab' ? auth === o.token : kind === 'github' ? auth === `Bearer ${o.token}` || auth === `token ${o.token}` : auth === `token ${o.token}`;
    if (!good) return answer(401, { message: kind === 'gitlab' ? '401 Unauthorized' : 'Bad credentials' });
    const repo = kind === 'gitlab' ? decodeURIComponent(m[1]) : `${m[1]}/${m[2]}`;
    if (repo !== o.repo) return answer(404, { message: 'Not Found' });
    if (!json || typeof json !== 'object') return answer(kind === 'gitlab' ? 400 : 422, { message: 'Problems parsing JSON' });
    const states = kind === 'gitlab' ? ['pending', 'running', 'success', 'failed', 'canceled'] : ['error', 'failure', 'pending', 'success'];
    if (!states.includes(json.state)) return answer(kind === 'gitlab' ? 400 : 422, { message: 'Validation Failed: state' });
    if (kind === 'github' && typeof json.description === 'string' && json.description.length > 140) return answer(422, { message: 'Validation Failed: description is too long (maximum is 140 characters)' });
    return answer(201, { id: seen.length + 1, state: json.state, context: json.context ?? json.name });
  });
  return { url, seen, script, waitFor: (pred, what, timeoutMs = 30_000) => until(() => seen.find(pred), what, timeoutMs) };
}

export interface Received {
  id: string;
  timestamp: string;
  body: any;
  verified: boolean;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Requests the receiver holds open without answering (mode 'hang'). */
  open: () => number;
  mode: 'ok' | 'flaky' | 'hang' | 'fail' | 'redirect';
  secret: string;
  waitFor(pred: (r: Received) => boolean, what: string, timeoutMs?: number): Promise<Received>;
}

/** Standard Webhooks verification, as its specification states it. */
export function verifies(secret: string, id: string, ts: string, body: string, header: string): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const want = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest();
  return header.split(' ').some((part) => {
    const [v, sig] = part.split(',');
    const got = Buffer.from(sig ?? '', 'base64');
    return v === 'v1' && got.length === want.length && timingSafeEqual(got, want);
  });
}

/** `flaky`: 500 to the first delivery of each webhook-id, then 200. */
export async function eventReceiver(t: TestContext, mode: Receiver['mode'] = 'ok'): Promise<Receiver> {
  const received: Received[] = [];
  const failedOnce = new Set<string>();
  let held = 0;
  const r: Receiver = {
    url: '',
    received,
    open: () => held,
    mode,
    secret: '',
    waitFor: (pred, what, timeoutMs = 30_000) => until(() => received.find(pred), what, timeoutMs),
  };
  r.url = await serve(t, async (req, res) => {
    const body = await readBody(req);
    const id = String(req.headers['webhook-id'] ?? '');
    const ts = String(req.headers['webhook-timestamp'] ?? '');
    let json: any;
    try {
      json = JSON.parse(body);
    } catch {}
    received.push({ id, timestamp: ts, body: json, verified: !!r.secret && verifies(r.secret, id, ts, body, String(req.headers['webhook-signature'] ?? '')) });
    if (r.mode === 'hang') {
      held++;
      res.on('close', () => held--);
      return;
    }
    if (r.mode === 'redirect') {
      res.writeHead(302, { location: 'http://127.0.0.2:9/elsewhere' });
      return res.end();
    }
    if (r.mode === 'fail' || (r.mode === 'flaky' && !failedOnce.has(id))) {
      failedOnce.add(id);
      res.writeHead(500);
      return res.end('try again');
    }
    res.writeHead(200);
    res.end('ok');
  });
  return r;
}
