// Who may use the settings page: peers on this machine or its local network, asking for
// it by one of this machine's names (which stops DNS rebinding).
import os from 'node:os';

/**
 * The page has no login: it is for this machine and its home network. Peers on the
 * internet (a port forwarded for webhooks, say) get webhooks only, not the page.
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

