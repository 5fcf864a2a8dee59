// Whether this runtime's own fetch may carry a request: only on Bun (on Node, fetch is
// undici, which costs more to load than node:http), and only with no proxy variable set,
// because Bun's fetch sends through the proxy these name and node:http never does. One
// rule for every HTTP client here, so that a deploy and its health checks go the same way.
const PROXY_VARS = ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy'];

export function fetchIsDirect(): boolean {
  return !!process.versions.bun && !PROXY_VARS.some((v) => process.env[v]);
}

/**
 * Whether a Bun of this version holds back a response body its reader has not taken. Older
 * ones read it off the socket into memory as fast as it came (oven-sh/bun#32471, seen in
 * 1.3.14): a 2 GB snapshot from a fast server to a Pi's slow card would fill its memory.
 * 1.4.5 kept 63 MB while a local server sent 600 MB to a slow reader (checked here), so the
 * fetchers take Bun's fetch from there on, node:http before.
 */
export function boundsBodies(version: string | undefined = process.versions.bun): boolean {
  const [major, minor, patch] = (version ?? '').split(/[.-]/).map(Number);
  if (![major, minor, patch].every(Number.isInteger)) return false;
  return major > 1 || (major === 1 && (minor > 4 || (minor === 4 && patch >= 5)));
}
