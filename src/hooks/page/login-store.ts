// Who may use the settings page: one-time login links and the sessions they open, in
// rev/hooks/page-login.json (mode 0600). Only SHA-256 hashes are kept, so the file, or a
// backup of it, logs no one in. `toes page` and the daemon both write it, under one lock;
// the daemon reads it on every request, so a revoke or a new link counts at once, and
// sessions outlive a daemon restart.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Layout } from '../../releases/paths.js';
import { readJson, updateJson, type Settings } from '../../releases/settings/files.js';

/** A link is printed where logs and shell history may keep it: short-lived and used once. */
export const LINK_TTL_MS = 15 * 60_000;
export const SESSION_TTL_MS = 30 * 86_400_000;
/** A session's expiry slides at most once a day: a read per request, a write per day. */
const SLIDE_EVERY_MS = 86_400_000;
/** A restart loop or a script calling `toes page` must not grow the file without bound. */
const MAX_LINKS = 20;
const MAX_SESSIONS = 50;

const SECRET = /^[A-Za-z0-9_-]{43}$/;

interface Entry {
  hash: string;
  createdAt: string;
  expiresAt: string;
}

interface Logins {
  links: Entry[];
  sessions: Entry[];
}

export interface Session {
  /** The cookie's value: given to the browser once, never stored. */
  id: string;
  expiresAt: string;
}

/** 32 random bytes, as text that fits a URL fragment and a cookie unescaped. */
const newSecret = () => randomBytes(32).toString('base64url');

export function hashOf(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

function entries(v: unknown, now: number): Entry[] {
  if (!Array.isArray(v)) return [];
  return v.filter((e): e is Entry => !!e && typeof e.hash === 'string' && /^[0-9a-f]{64}$/.test(e.hash) && typeof e.expiresAt === 'string' && Date.parse(e.expiresAt) > now);
}

function parse(v: Settings, now: number): Logins {
  const raw = v as unknown as Record<string, unknown>;
  return { links: entries(raw.links, now), sessions: entries(raw.sessions, now) };
}

/** Replaces the file's content with `l`, newest kept when over the bounds. */
function store(v: Settings, l: Logins): void {
  const raw = v as unknown as Record<string, unknown>;
  raw.links = l.links.slice(-MAX_LINKS);
  raw.sessions = l.sessions.slice(-MAX_SESSIONS);
}

/**
 * The entry whose hash is the secret's. Every entry is compared, each in constant time, so
 * how long this takes says nothing about how close a guess came.
 */
function find(list: Entry[], secret: string): Entry | undefined {
  if (!SECRET.test(secret)) return undefined;
  const want = hashOf(secret);
  let hit: Entry | undefined;
  for (const e of list) if (timingSafeEqual(Buffer.from(e.hash, 'hex'), want)) hit = e;
  return hit;
}

function entry(secret: string, now: number, ttl: number): Entry {
  return { hash: hashOf(secret).toString('hex'), createdAt: new Date(now).toISOString(), expiresAt: new Date(now + ttl).toISOString() };
}

/** A new login link's token; the file keeps only its hash. */
export async function mintLink(layout: Layout, now = Date.now()): Promise<{ token: string; expiresAt: string }> {
  const token = newSecret();
  const e = entry(token, now, LINK_TTL_MS);
  await updateJson(layout.pageLoginFile, (v) => {
    const l = parse(v, now);
    l.links.push(e);
    store(v, l);
  });
  return { token, expiresAt: e.expiresAt };
}

/** Uses up a link's token and opens a session; undefined when the token is not a live link. */
export async function redeemLink(layout: Layout, token: string, now = Date.now()): Promise<Session | undefined> {
  if (!SECRET.test(token)) return undefined;
  let session: Session | undefined;
  await updateJson(layout.pageLoginFile, (v) => {
    const l = parse(v, now);
    const link = find(l.links, token);
    if (link) {
      l.links = l.links.filter((e) => e !== link);
      const id = newSecret();
      const e = entry(id, now, SESSION_TTL_MS);
      l.sessions.push(e);
      session = { id, expiresAt: e.expiresAt };
    }
    store(v, l);
  });
  return session;
}

/**
 * Whether the session is live. Its expiry slides: a session in use a day after it was
 * last extended gets another full term, returned so the cookie can be renewed too.
 */
export async function checkSession(layout: Layout, id: string | undefined, now = Date.now()): Promise<{ ok: boolean; renewed?: string }> {
  if (!id || !SECRET.test(id)) return { ok: false };
  const found = find(parse(await readJson(layout.pageLoginFile), now).sessions, id);
  if (!found) return { ok: false };
  if (Date.parse(found.expiresAt) - now > SESSION_TTL_MS - SLIDE_EVERY_MS) return { ok: true };
  let renewed: string | undefined;
  await updateJson(layout.pageLoginFile, (v) => {
    const l = parse(v, now);
    const e = find(l.sessions, id);
    if (e) e.expiresAt = renewed = new Date(now + SESSION_TTL_MS).toISOString();
    store(v, l);
  });
  return { ok: !!renewed, renewed };
}

/** Logs every browser out and makes every printed link useless. */
export async function revokeAll(layout: Layout, now = Date.now()): Promise<{ sessions: number; links: number }> {
  let counts = { sessions: 0, links: 0 };
  await updateJson(layout.pageLoginFile, (v) => {
    const l = parse(v, now);
    counts = { sessions: l.sessions.length, links: l.links.length };
    store(v, { links: [], sessions: [] });
  });
  return counts;
}
