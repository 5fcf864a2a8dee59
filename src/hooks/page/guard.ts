// Where the settings page may be asked for from, before any login: peers on this machine
// or its local network, by one of this machine's names (which stops DNS rebinding), and,
// for actions, only by the page itself. None of these is a login (a script sends any
// header it likes); they are defences around it (see login.ts).
import type { IncomingHttpHeaders } from 'node:http';
import os from 'node:os';

/**
 * The page is for this machine and its home network. Peers on the internet (a port
 * forwarded for webhooks, say) get webhooks only, not the page, not even its login.
 */
export function localPeer(addr: string | undefined): boolean {
  const a = (addr ?? '').replace(/^::ffff:/, '');
  if (a === '::1' || a.startsWith('127.')) return true;
  if (/^10\./.test(a) || /^192\.168\./.test(a) || /^172\.(1[6-9]|2\d|3[01])\./.test(a) || /^169\.254\./.test(a)) return true;
  return /^f[cd][0-9a-f]{2}:/i.test(a) || /^fe80:/i.test(a);
}

/** Hosts this daemon answers the page for: names of this machine and IP literals. */
export function hostAllowed(host: string | undefined, extra: string[]): boolean {
  if (!host) return false;
  const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
  const me = os.hostname().toLowerCase();
  return (
    name === 'localhost' ||
    /^[\d.]+$/.test(name) ||
    name.includes(':') ||
    name === me ||
    name === `${me}.local` ||
    name.endsWith('.local') ||
    extra.includes(name)
  );
}


/**
 * A POST the page's own script made: JSON, its `x-toes-page` header, and no Origin other
 * than this one. A form or a fetch from another site cannot send all three.
 */
export function fromThePage(req: { headers: IncomingHttpHeaders }): boolean {
  const origin = req.headers.origin;
  const host = req.headers.host;
  const sameOrigin = !origin || origin === `http://${host}` || origin === `https://${host}`;
  return req.headers['x-toes-page'] === '1' && String(req.headers['content-type'] ?? '').startsWith('application/json') && sameOrigin;
}
