// A relay node's connection to NATS: the servers from `--nats`, the credentials from a file
// or the environment (never from argv or a URL, where `ps` and logs would show them), and
// the stream and buckets it needs, created by whichever node starts first.
import fs from 'node:fs';
import { AuthorizationError, connect, credsAuthenticator, UserAuthenticationExpiredError, type NatsConnection, type ConnectionOptions } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, DiscardPolicy, type JetStreamClient, type JetStreamManager, type StoredMsg, type StreamConfig } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { RevError } from '../../../errors.js';
import type { EventLog } from '../../common/event-log.js';
import { NatsLayout, SHARDS } from './layout.js';

export interface NatsOptions {
  /** `nats://host:port` URLs, without credentials. */
  servers: string[];
  /** A NATS credentials file (JWT and seed); else TOES_RELAY_NATS_CREDS, _USER/_PASSWORD or _TOKEN from the environment. */
  credsFile?: string;
  prefix?: string;
  /** Copies of each webhook and registration; default 3, or fewer when the cluster is smaller. */
  replicas?: number;
  /** Streams the webhooks are spread over, fixed by the first node to start (default 16). */
  shards?: number;
  /** Where the credentials are read from (the process's environment unless given). */
  env?: NodeJS.ProcessEnv;
}

export interface NatsParts {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  layout: NatsLayout;
  instances: KV;
  links: KV;
  replicas: number;
}

/** The largest stored message: a 1 MiB body and its headers. */
const NEEDED_PAYLOAD = 1024 * 1024 + 64 * 1024;

/** Checks `--nats` before anything connects: a URL carrying a user or password is refused. */
export function natsServers(raw: string): string[] {
  const servers = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (servers.length === 0) throw new RevError('USAGE', '--nats needs at least one URL, e.g. nats://10.0.0.1:4222,nats://10.0.0.2:4222.');
  for (const s of servers) {
    let u: URL;
    try {
      u = new URL(s.includes('://') ? s : `nats://${s}`);
    } catch {
      throw new RevError('USAGE', `"${s.replace(/\/\/[^@/]*@/, '//…@')}" in --nats is not a URL like nats://host:4222.`);
    }
    if (u.username || u.password) throw new RevError('USAGE', '--nats URLs must not carry credentials (argv is visible to every user): put them in TOES_RELAY_NATS_USER and TOES_RELAY_NATS_PASSWORD, TOES_RELAY_NATS_TOKEN, or a creds file (--nats-creds FILE).');
    if (!['nats:', 'tls:'].includes(u.protocol)) throw new RevError('USAGE', `--nats takes nats:// or tls:// URLs, not ${u.protocol}//.`);
  }
  return servers;
}

function credentials(o: NatsOptions, env: NodeJS.ProcessEnv): Partial<ConnectionOptions> {
  const file = o.credsFile ?? env.TOES_RELAY_NATS_CREDS;
  if (file) {
    let creds: Buffer;
    try {
      creds = fs.readFileSync(file);
    } catch (err) {
      throw new RevError('BAD_CONFIG', `Cannot read the NATS credentials file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}); check the path and that this user may read it.`);
    }
    return { authenticator: credsAuthenticator(new Uint8Array(creds)) };
  }
  if (env.TOES_RELAY_NATS_TOKEN) return { token: env.TOES_RELAY_NATS_TOKEN };
  if (env.TOES_RELAY_NATS_USER) return { user: env.TOES_RELAY_NATS_USER, pass: env.TOES_RELAY_NATS_PASSWORD ?? '' };
  return {};
}

export async function connectNats(o: NatsOptions, node: string, log: EventLog, maxAgeMs: number): Promise<NatsParts> {
  const env = o.env ?? process.env;
  const nc = await connect({
    servers: o.servers,
    ...credentials(o, env),
    name: `toes-relay ${node}`,
    // A relay node outlives any one NATS server: it keeps trying the others.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 10_000,
    timeout: 10_000,
    // Without it the client makes two Error objects (stack traces) per request, every publish
    // included: 4% of a node's JavaScript time under load (profiled). Failures are read by
    // their codes, not their stacks.
    noAsyncTraces: true,
  }).catch((err: Error) => {
    // The client's messages name servers and reasons, never credentials.
    if (err instanceof AuthorizationError || err instanceof UserAuthenticationExpiredError) throw new RevError('AUTH', `NATS at ${o.servers.join(',')} refused the credentials (${err.message}); check TOES_RELAY_NATS_* or the creds file.`);
    throw new RevError('UNREACHABLE', `Cannot connect to NATS at ${o.servers.join(',')} (${err.message}); check that nats-server runs there and this host may reach it.`);
  });
  try {
    coalesceWrites(nc);
    void watchStatus(nc, log);
    if ((nc.info?.max_payload ?? 0) < NEEDED_PAYLOAD) {
      throw new RevError('BAD_CONFIG', `NATS takes messages of at most ${nc.info?.max_payload} bytes; webhooks need ${NEEDED_PAYLOAD}: set max_payload: 2MB in every nats-server's config.`);
    }
    // Short: a request that landed on a server just killed is better tried again soon.
    const jsm = await jetstreamManager(nc, { timeout: 5_000 });
    const known = new Set([...o.servers, ...(nc.info?.connect_urls ?? [])]);
    const replicas = o.replicas ?? Math.min(3, known.size);
    const prefix = o.prefix ?? 'toes_relay';
    const kvm = new Kvm(nc);
    const instances = await kvm.create(`${prefix}_instances`, { replicas, history: 1 });
    const links = await kvm.create(`${prefix}_links`, { replicas, history: 1 });
    const layout = new NatsLayout(prefix, await agreedShards(links, o.shards ?? SHARDS, log));
    await Promise.all([...layout.streams(), { name: layout.parkedStream, subjects: layout.parkedStreamSubjects() }].map((st) => ensureStream(jsm, st, replicas, maxAgeMs, log)));
    return { nc, js: jetstream(nc, { timeout: 10_000 }), jsm, layout, instances, links, replicas };
  } catch (err) {
    await nc.close().catch(() => {});
    throw err;
  }
}

/**
 * One socket write per turn of the event loop, not one per publish. The client writes what
 * is queued at the end of each task (a microtask), so every webhook a node accepted was a
 * write of its own: the largest single item in a node's profile under load (16-17% of its
 * samples, though that profiler samples by the clock, and a write that wakes nats-server is
 * where a node on a busy machine gets preempted; by CPU, perf put the kernel's whole share at
 * 14%). Requests that arrive together are handled in one turn; their publishes now
 * leave in one write, after the turn's other callbacks, so a busy node writes less the
 * busier it is, and a quiet one waits no longer than the turn. Measured from /proc in four
 * same-run A/Bs of the relay cluster bench on a shared 2-core machine: one instance taking
 * webhooks 16 at a time cost the relay nodes 7-13% less CPU per webhook in three and the
 * same in the fourth; traffic spread thin, where a turn rarely holds two publishes, the same
 * within noise. Order is kept: the client's
 * buffer is the same, only written later. A flush of the client (a PING it awaits) is
 * written the same way.
 */
export function coalesceWrites(nc: NatsConnection): void {
  const protocol = (nc as unknown as { protocol?: { flushPending?: () => void } }).protocol;
  const flushPending = protocol?.flushPending;
  // Another client version without that seam keeps its own timing.
  if (!protocol || typeof flushPending !== 'function') return;
  let due = false;
  const write = () => {
    due = false;
    flushPending.call(protocol);
  };
  protocol.flushPending = () => {
    if (due) return;
    due = true;
    setImmediate(write);
  };
}

/**
 * Runs `fn` again while NATS is between leaders (a node died: a few seconds without
 * responders), for up to `budgetMs`. Safe for what it is used for: a publish carries its
 * dedupe id, a delete of a deleted message says so, and the shard count is made only once.
 */
export async function persist<T>(fn: () => Promise<T>, budgetMs: number): Promise<T> {
  const deadline = Date.now() + budgetMs;
  for (let wait = 100; ; wait = Math.min(1_000, wait * 2)) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() + wait > deadline || isNotFound(err)) throw err;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/**
 * Codes for "not there": besides the client's named ones, what nats-server 2.9 answers a
 * delete of a message already deleted (10043, sequence not found) or purged (10057, the
 * delete failed: no message found), measured.
 */
const NOT_FOUND = new Set<number>([JetStreamApiCodes.StreamNotFound, JetStreamApiCodes.ConsumerNotFound, JetStreamApiCodes.NoMessageFound, 10043, 10057]);
export const isNotFound = (err: unknown) => err instanceof JetStreamApiError && NOT_FOUND.has(err.code);

/**
 * The message at `seq` (or with `filter`, the first of that filter from `seq` on); null when
 * there is none (deleted, purged, expired). Tried again through a leader election for up to
 * `budgetMs`.
 */
export function messageAt(jsm: JetStreamManager, stream: string, seq: number, o: { filter?: string; budgetMs?: number } = {}): Promise<StoredMsg | null> {
  const query = o.filter === undefined ? { seq } : ({ seq, next_by_subj: o.filter } as never);
  return persist(() => jsm.streams.getMessage(stream, query), o.budgetMs ?? 0).catch((err) => (isNotFound(err) ? null : Promise.reject(err)));
}

/** Deletes the message at `seq`: false when it was not there. Tried again through a leader election for up to `budgetMs`. */
export async function deleteAt(jsm: JetStreamManager, stream: string, seq: number, budgetMs: number): Promise<boolean> {
  try {
    return await persist(() => jsm.streams.deleteMessage(stream, seq, false), budgetMs);
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Every node must spread instances the same way: the first one to start writes the count, the others read it. */
async function agreedShards(links: KV, wanted: number, log: EventLog): Promise<number> {
  // Not an instance id (those are 8 to 64 characters), so it cannot collide with one. A
  // bucket just made may not answer yet (its stream still electing a leader): tried again.
  const e = await persist(async () => {
    await links.create('shards', String(wanted)).catch(() => {});
    // Whatever it throws (the bucket's stream not found yet, say) is tried again.
    const got = await links.get('shards').catch(() => null);
    if (got?.operation !== 'PUT') throw new Error('no shard count yet');
    return got;
  }, 20_000).catch(() => null);
  const n = Number(e?.string());
  if (!Number.isInteger(n) || n < 1) throw new RevError('UNREACHABLE', 'The NATS links bucket holds no valid shard count under "shards" (tried for 20 s); check that JetStream is up on every NATS server (its /healthz).');
  if (n !== wanted) log('nats-shards', { shards: n, asked: wanted, reason: 'the cluster was made with this count; it cannot change' });
  return n;
}

async function ensureStream(jsm: JetStreamManager, st: { name: string; subjects: string[] }, replicas: number, maxAgeMs: number, log: EventLog): Promise<void> {
  const want: Partial<StreamConfig> & { name: string } = {
    name: st.name,
    subjects: st.subjects,
    // Limits, not work-queue: the relay removes acked webhooks itself, a shard's worth at a
    // time (keeper.ts). nats-server 2.9 removes a work-queue message on ack only on the
    // replicas that hold the consumer, and the consumers here are kept on one (tap.ts).
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: replicas,
    max_age: maxAgeMs * 1_000_000,
    max_msg_size: NEEDED_PAYLOAD,
    discard: DiscardPolicy.Old,
    // A sender's retry within two minutes (same delivery id) is stored once. NATS refuses a
    // window longer than the age limit (a relay run with --max-age under two minutes).
    duplicate_window: Math.min(120_000, maxAgeMs) * 1_000_000,
  };
  try {
    await jsm.streams.add(want);
    return;
  } catch (err) {
    // Another node made it first, maybe with other limits: this node's flags win, and say so.
    const info = await jsm.streams.info(st.name).catch(() => {
      throw err;
    });
    const c = info.config;
    if (c.max_age !== want.max_age || c.num_replicas !== want.num_replicas) {
      await jsm.streams.update(st.name, { ...c, max_age: want.max_age!, duplicate_window: Math.min(c.duplicate_window, want.max_age!), num_replicas: want.num_replicas! });
      log('nats-stream-updated', { stream: st.name, replicas, maxAgeS: Math.round(maxAgeMs / 1000), was: `replicas ${c.num_replicas}, max age ${Math.round(c.max_age / 1e9)} s` });
    }
  }
}

async function watchStatus(nc: NatsConnection, log: EventLog): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type === 'disconnect' || s.type === 'reconnect') log(`nats-${s.type}`, { server: s.server });
  }
}
