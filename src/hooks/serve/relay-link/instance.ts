// This server as a relay instance: which relay (REV_RELAY_URL, else `toes config -g relay`,
// else the public one), its id and secret (made once, kept mode 0600), registration (only
// the secret's hash goes to the relay), and the webhook URL hosts should use.
import { RevError } from '../../../errors.js';
import { readJson, writeJson } from '../../../releases/settings/files.js';
import { globalSettings } from '../../../releases/settings/load.js';
import type { Layout } from '../../../releases/paths.js';
import { INSTANCE_ID, newInstance, secretHash } from '../../common/relay-protocol.js';

export const PUBLIC_RELAY = 'https://sneaker.toes.space';

export interface Instance {
  id: string;
  secret: string;
  /** The relay it registered with. */
  relay: string;
  registeredAt: string;
}

/** The relay's base URL, or undefined when relaying is turned off (`none`). */
export async function relayUrl(layout: Layout, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const v = (env.REV_RELAY_URL ?? (await globalSettings(layout)).relay) || PUBLIC_RELAY;
  if (/^(none|off|false)$/i.test(v)) return undefined;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new RevError('BAD_CONFIG', `The relay "${v}" is not a URL; set it with \`toes config set -g relay https://...\` (or "none").`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new RevError('BAD_CONFIG', `The relay must be an http(s) URL, not "${v}".`);
  if (u.username || u.password) throw new RevError('BAD_CONFIG', 'The relay URL must not hold credentials.');
  return v.replace(/\/+$/, '');
}

export async function readInstance(layout: Layout): Promise<Instance | undefined> {
  const v = await readJson(layout.instanceFile);
  if (typeof v.id !== 'string' || !INSTANCE_ID.test(v.id) || typeof v.secret !== 'string' || typeof v.relay !== 'string') return undefined;
  return { id: v.id, secret: v.secret, relay: v.relay, registeredAt: String(v.registeredAt ?? '') };
}

/** POST /instances; true when the relay knows this id with this secret. */
export async function register(relay: string, id: string, secret: string, timeoutMs = 10_000): Promise<'ok' | 'taken'> {
  let res: Response;
  try {
    res = await fetch(`${relay}/instances`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id, secretHash: secretHash(secret) }),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    // The system's reason (ECONNREFUSED, ENOTFOUND), never the runtime's class name (TypeError).
    const code = (err as { cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code;
    const cause = code ?? ((err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : 'no connection');
    throw new RevError('UNREACHABLE', `Could not reach the relay at ${relay} (${cause}); check the address (\`toes config get -g relay\`) and the network.`);
  }
  await res.arrayBuffer().catch(() => {});
  if (res.status === 409) return 'taken';
  if (res.status !== 200 && res.status !== 201) throw new RevError('UNREACHABLE', `The relay at ${relay} refused the registration (HTTP ${res.status}); try again later.`);
  return 'ok';
}

/** Registers this server with the relay unless it already is; returns its identity. */
export async function ensureInstance(layout: Layout, relay: string, now = new Date()): Promise<Instance> {
  const cur = await readInstance(layout);
  if (cur && cur.relay === relay) return cur;
  // A new relay keeps the identity when it can (URLs already pasted into hosts stay valid
  // if the relay moves); an id taken there gets a fresh one.
  let ident = cur ? { id: cur.id, secret: cur.secret } : newInstance();
  if ((await register(relay, ident.id, ident.secret)) === 'taken') {
    ident = newInstance();
    if ((await register(relay, ident.id, ident.secret)) === 'taken') throw new RevError('INTERNAL', 'The relay refused two fresh instance ids; this is a bug, please report it.');
  }
  const inst: Instance = { ...ident, relay, registeredAt: now.toISOString() };
  await writeJson(layout.instanceFile, { ...inst });
  return inst;
}

export function relayHookUrl(inst: Instance, app: string): string {
  return `${inst.relay}/hooks/${inst.id}/${encodeURIComponent(app)}`;
}
