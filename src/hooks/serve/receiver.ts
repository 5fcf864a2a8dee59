// The webhook receiver: `POST /hooks/<app>`. Each request walks a short list of checks,
// cheapest first, and gets exactly one answer; a 2xx for a push is sent only once the
// event is durably in the queue. Refusals carry a reason for the sender's delivery log,
// and nothing here ever echoes a secret or a signature.
import { createHash } from 'node:crypto';
import type { DeliveryLog, Outcome } from './deliveries.js';
import type { EventLog } from '../common/event-log.js';
import { mediaType, readIntent, signedBody, type MediaType } from './payload.js';
import { whyIgnored } from './push-rule.js';
import type { DeployQueue, HookEvent } from './queue.js';
import { verifyWebhook, type Failure } from './verify.js';
import { answer, type HttpContext } from '../common/hono-http.js';
import { readBody, type Reply } from '../common/http-io.js';

export const MAX_BODY = 1024 * 1024;

/** What the receiver needs to know about an app; undefined for an app without webhooks. */
export interface AppHooks {
  enabled: boolean;
  secret: string;
  /** The branch this app follows (refs/heads/...); pushes elsewhere, or all when none, are ignored. */
  branch?: string;
}

export interface ReceiverDeps {
  lookup(app: string): Promise<AppHooks | undefined>;
  queue: Pick<DeployQueue, 'offer'>;
  deliveries: DeliveryLog;
  log: EventLog;
  /** A push was queued: start the app's deploy unless one is running. */
  kick(app: string): void;
  nowS(): number;
  maxBody: number;
  readTimeoutMs: number;
}

export interface Answer extends Reply {
  outcome: Outcome;
  message: string;
  id?: string;
}

function send(c: HttpContext, a: Answer): Response {
  return answer(c, a, { ok: a.status < 300, outcome: a.outcome, ...(a.id ? { id: a.id } : {}), message: a.message });
}

type Headers = Record<string, string | string[] | undefined>;

const first = (h: Headers, name: string) => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/** The delivery id the sender claims (before any check), for the log. */
export function claimedId(h: Headers): string | undefined {
  return first(h, 'webhook-id') ?? first(h, 'x-github-delivery') ?? first(h, 'x-forgejo-delivery') ?? first(h, 'x-gitea-delivery');
}

/** A delivery as it arrived: straight over HTTP, or passed down by the relay. */
export interface Arrival {
  app: string;
  headers: Headers;
  body: Buffer;
  /** The receipt time the signature's timestamp is judged against, in seconds. Direct
   * deliveries use now; relayed ones the time the relay received them, since a webhook
   * held while this server was offline is old by design. */
  atS: number;
  /** Where it came from, for the log. */
  from?: string;
}

type Refuse = (status: number, message: string, known: boolean, close?: Answer['close']) => Answer;

/** What the person setting up the sender must do, by what failed; the secret's own words never. */
function signatureHint(app: string, kind: Failure): string {
  if (kind === 'stale') return 'check the sending machine\'s clock, or whether this delivery is a replay';
  if (kind === 'malformed') return 'the sender does not sign the way rev.host, GitHub or Forgejo do; pick one of those webhook types there';
  const command = `\`toes webhook enable ${app}\``;
  if (kind === 'unsigned') return `sign deliveries with the secret ${command} printed (the sender's webhook settings have a field for it)`;
  return `check that the secret in the sender's webhook settings is the one ${command} printed (it prints the same secret again)`;
}

function refuser(app: string, id: string | undefined, deps: ReceiverDeps, via?: string): Refuse {
  return (status, message, known, close) => {
    // A relayed delivery was answered 202 by the relay long ago: this log line and the
    // delivery log are the only places its refusal shows.
    deps.log('refused', { app, id, status, reason: message, via: via === 'relay' ? 'relay' : undefined });
    if (known) deps.deliveries.add(app, { id: id ?? `refused-${Date.now()}`, at: new Date().toISOString(), outcome: 'refused', status, reason: message });
    return { status, outcome: 'refused', message, close };
  };
}

/** The checks that need only the headers: the app, whether it takes webhooks, the body's type and size. */
async function admit(app: string, h: Headers, deps: ReceiverDeps, refuse: Refuse): Promise<{ hooks: AppHooks; type: MediaType } | Answer> {
  const hooks = await deps.lookup(app);
  if (!hooks) return refuse(404, `no app called "${app}" accepts webhooks here`, false, 'linger');
  if (!hooks.enabled) return refuse(403, `webhooks are disabled for ${app}; enable them with \`toes webhook enable ${app}\``, true, 'linger');
  if (Number(first(h, 'content-length') ?? 0) > deps.maxBody) return refuse(413, `the body is over ${deps.maxBody} bytes`, true, 'linger');
  const type = mediaType(first(h, 'content-type'));
  if (!type) return refuse(415, 'the body must be application/json (or application/x-www-form-urlencoded, as GitHub and Gitea offer it)', true, 'linger');
  return { hooks, type };
}

/** The HTTP adapter: `POST /hooks/<app>`, the route's handler. */
export async function receive(c: HttpContext, app: string, deps: ReceiverDeps): Promise<Response> {
  const req = c.env.incoming;
  const id = claimedId(req.headers);
  deps.log('received', { app, id, bytes: first(req.headers, 'content-length'), from: req.socket.remoteAddress });
  const refuse = refuser(app, id, deps);
  let verdict = await admit(app, req.headers, deps, refuse);
  if (!('status' in verdict)) {
    const read = await readBody(req, deps.maxBody, deps.readTimeoutMs);
    verdict = 'refuse' in read ? refuse(read.refuse.status, read.refuse.message, true, read.refuse.close) : await judge({ app, headers: req.headers, body: read.body, atS: deps.nowS() }, verdict.hooks, verdict.type, deps);
  }
  return send(c, verdict);
}

/**
 * A whole delivery from elsewhere (the relay): the same checks and the same answers. The
 * answer is the receiver's verdict, which the relay link may pass back to the relay.
 */
export async function receiveDelivery(d: Arrival, deps: ReceiverDeps): Promise<Answer> {
  const id = claimedId(d.headers);
  deps.log('received', { app: d.app, id, bytes: d.body.length, from: d.from });
  const refuse = refuser(d.app, id, deps, d.from);
  const admitted = await admit(d.app, { ...d.headers, 'content-length': String(d.body.length) }, deps, refuse);
  if ('status' in admitted) return admitted;
  return judge(d, admitted.hooks, admitted.type, deps);
}

/** Signature, body, branch, then the queue. */
async function judge(d: Arrival, hooks: AppHooks, sent: MediaType, deps: ReceiverDeps): Promise<Answer> {
  const { app } = d;
  const { type, body } = signedBody(d.headers, sent, d.body);
  const v = verifyWebhook(d.headers, body, hooks.secret, d.atS);
  if (!v.ok) return refuser(app, claimedId(d.headers), deps, d.from)(v.status, `${v.reason}; ${signatureHint(app, v.kind)}`, true);
  // A delivery without an id (some Gitea versions) is known by its signed bytes.
  const id = v.id || `sha256:${createHash('sha256').update(body).digest('hex').slice(0, 32)}`;
  deps.log('verified', { app, id, format: v.format, type: v.event });
  const refuse = refuser(app, id, deps, d.from);

  let intent;
  try {
    intent = readIntent(v.format, v.event, type, body);
  } catch (err) {
    return refuse(400, `the body is not valid JSON (${(err as Error).message.slice(0, 80)})`, true);
  }
  const note = (outcome: Outcome, status: number, message: string, extra: Record<string, string | undefined> = {}): Answer => {
    deps.log(outcome === 'duplicate' ? 'deduplicated' : outcome, { app, id, format: v.format, ...extra, ...(outcome === 'ignored' ? { reason: message } : {}) });
    deps.deliveries.add(app, { id, at: new Date().toISOString(), outcome, status, format: v.format, event: v.event, reason: outcome === 'ignored' ? message : undefined });
    return { status, outcome, message, id };
  };
  if (intent.kind === 'ping') return note('ping', 200, 'pong: webhooks reach this app');
  if (intent.kind === 'other') return note('ignored', 202, `"${intent.name}" events do not deploy; only pushes to the branch ${app} follows do`, { type: intent.name });
  const why = whyIgnored(app, intent, hooks.branch);
  if (why) return note('ignored', 202, why, { ref: intent.ref });

  const event: HookEvent = { app, id, ref: intent.ref, commit: intent.commit, repo: intent.repo, format: v.format, receivedAt: new Date().toISOString() };
  let offer;
  try {
    offer = await deps.queue.offer(event);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    deps.log('refused', { app, id, status: 503, reason: `could not queue (${code})` });
    return { status: 503, outcome: 'refused', id, message: `the event could not be queued on this server (${code}); it was not accepted, send it again later` };
  }
  if (offer.result === 'duplicate') return note('duplicate', 200, 'this delivery was received before; nothing more to do');
  if (offer.superseded) {
    deps.log('superseded', { app, id: offer.superseded.id, by: id });
    deps.deliveries.add(app, { id: offer.superseded.id, at: offer.superseded.receivedAt, outcome: 'superseded', reason: `covered by the deploy for ${id}` });
  }
  const answer = note('queued', 202, `queued: ${app} will deploy the newest commit of its branch`, { ref: intent.ref, via: d.from === 'relay' ? 'relay' : undefined });
  deps.kick(app);
  return answer;
}
