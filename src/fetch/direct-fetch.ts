// Whether this runtime's own fetch may carry a request: only on Bun (on Node, fetch is
// undici, which costs more to load than node:http), and only with no proxy variable set,
// because Bun's fetch sends through the proxy these name and node:http never does. One
// rule for every HTTP client here, so that a deploy and its health checks go the same way.
const PROXY_VARS = ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy'];

export function fetchIsDirect(): boolean {
  return !!process.versions.bun && !PROXY_VARS.some((v) => process.env[v]);
}
