// A login link for the settings page, as `toes serve` prints it at start and `toes page`
// on demand: `<page>/login#<token>`. The token rides in the fragment, which browsers never
// send to a server, a proxy or a Referer; the login page's script hands it over in a POST.
// Each link is new (the file holds hashes only, so no earlier link can be printed again),
// works once, and only for 15 minutes.
import os from 'node:os';
import type { Layout } from '../../releases/paths.js';
import { urlHost } from '../common/listen.js';
import { DEFAULT_HOST, DEFAULT_PORT, runningDaemon } from '../serve/serve-info.js';
import { mintLink } from './login-store.js';

/**
 * The page's address as a browser can use it: a wildcard listen address becomes this
 * machine's name (`<hostname>.local`, as Toes boxes answer on the LAN).
 */
export function browsable(pageUrl: string): string {
  const u = new URL(pageUrl);
  if (u.hostname === '0.0.0.0' || u.hostname === '[::]') {
    const me = os.hostname().toLowerCase();
    u.hostname = urlHost(me.includes('.') ? me : `${me}.local`);
  }
  return u.origin;
}

/** Makes a new link; `pageUrl` defaults to where the running daemon has the page, else the default address. */
export async function newLoginLink(layout: Layout, pageUrl?: string): Promise<{ url: string; expiresAt: string; daemon: boolean }> {
  const running = pageUrl ? undefined : await runningDaemon(layout);
  const base = pageUrl ?? running?.pageUrl ?? running?.url ?? `http://${DEFAULT_HOST}:${DEFAULT_PORT}`;
  const { token, expiresAt } = await mintLink(layout);
  return { url: `${browsable(base)}/login#${token}`, expiresAt, daemon: !!(pageUrl || running) };
}
