// Who sent a webhook, as the relay's budgets count senders. Behind a proxy the sender is the
// address the proxy itself added: the right-most X-Forwarded-For entry. Everything left of
// it came from the client, so an attacker writes whatever it likes there (HAProxy's
// `option forwardfor` and nginx's $proxy_add_x_forwarded_for both keep it and append).
// An IPv6 host is given a whole /64 (often far more): one address each would let one host
// be a million fresh senders, so IPv6 sources are counted by their /64.
import { isIP, isIPv4, isIPv6 } from 'node:net';

/** The sender's address: the peer's, or the one a trusted proxy appended. */
export function senderAddress(forwarded: string | string[] | undefined, peer: string | undefined, trustProxy: boolean): string {
  if (trustProxy && forwarded !== undefined) {
    const list = Array.isArray(forwarded) ? forwarded.join(',') : forwarded;
    const last = bare(list.split(',').pop()!.trim());
    if (last) return last;
  }
  return peer || '?';
}

/** An address without the brackets, port or zone some proxies write around it; '' for anything else. */
function bare(entry: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(entry);
  const a = (v6 ? v6[1] : /^[\d.]+:\d+$/.test(entry) ? entry.replace(/:\d+$/, '') : entry).replace(/%.*$/, '');
  return isIP(a) ? a : '';
}

/**
 * What the budgets count as one sender: an IPv4 address (also when written IPv4-mapped,
 * as a dual-stack listener reports it), or an IPv6 address's /64.
 */
export function senderGroup(address: string): string {
  const a = address.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped && isIPv4(mapped[1])) return mapped[1];
  if (!isIPv6(a)) return address;
  return `${hextets(a).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, in shortest hex. */
function hextets(a: string): string[] {
  const [head, tail] = a.split('::');
  const part = (s: string | undefined): string[] => {
    if (!s) return [];
    const out: string[] = [];
    for (const p of s.split(':')) {
      if (isIPv4(p)) {
        const [w, x, y, z] = p.split('.').map(Number);
        out.push(((w << 8) | x).toString(16), ((y << 8) | z).toString(16));
      } else out.push(parseInt(p, 16).toString(16));
    }
    return out;
  };
  const h = part(head);
  const t = part(tail);
  return tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
}
