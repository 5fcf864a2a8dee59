// Where a REV_TOKEN may go: only to the host it was meant for.
import type { Layout } from '../paths.js';
import { readJson } from './files.js';

/** Where a global REV_TOKEN goes when no REV_TOKEN_HOST says otherwise. */
export const DEFAULT_TOKEN_HOST = 'rev.host';

/** How the deploy came by its source: a token is never sent to one read from the app's own files. */
export type SourceOrigin = 'flag' | 'saved' | 'package';

function hostList(v: unknown): string[] {
  return typeof v === 'string' ? v.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean) : [];
}

/**
 * Whether a REV_TOKEN_HOST entry names the host of `u`: `NAME` is that host on any port
 * (`localhost` takes in `http://localhost:3000`), `NAME:PORT` that port alone, the
 * scheme's default when the URL names none.
 */
export function tokenHostMatches(entry: string, u: URL): boolean {
  const e = entry.trim().toLowerCase();
  const hostname = u.hostname.toLowerCase();
  // A port follows the name (or a bracketed IPv6 address); a bare IPv6 address has no port.
  const m = /^(\[[^\]]*\]|[^:]*):(\d+)$/.exec(e);
  if (!m) return e === hostname;
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  return m[1] === hostname && Number(m[2]) === Number(port);
}

/**
 * The REV_TOKEN a fetch from `url` may carry, so that a token reaches only the host it was
 * meant for: the app's own token goes to the hosts in the app's REV_TOKEN_HOST, else to the
 * source the user named (`--from` or the `source` setting); the global token goes to the
 * hosts in the global REV_TOKEN_HOST, else to rev.host alone. Never to a source read from
 * a release's package.json without a host naming it.
 */
export async function sourceToken(layout: Layout, app: string, url: string, origin: SourceOrigin): Promise<string | undefined> {
  let u: URL;
  try {
    u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
  } catch {
    return undefined;
  }
  const forUrl = (hosts: string[]) => hosts.some((h) => tokenHostMatches(h, u));
  const [own, global] = await Promise.all([readJson(layout.appEnv(app)), readJson(layout.globalEnv)]);
  const token = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  if (token(own.REV_TOKEN)) {
    const hosts = hostList(own.REV_TOKEN_HOST);
    if (hosts.length ? forUrl(hosts) : origin !== 'package') return token(own.REV_TOKEN);
  }
  if (token(global.REV_TOKEN)) {
    const hosts = hostList(global.REV_TOKEN_HOST);
    if (forUrl(hosts.length ? hosts : [DEFAULT_TOKEN_HOST])) return token(global.REV_TOKEN);
  }
  return undefined;
}
