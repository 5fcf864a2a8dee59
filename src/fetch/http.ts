// HTTP for the fetchers: timeouts on every request, redirects that drop credentials across
// origins, and errors translated into RevErrors that name the host but never a credential.
// Each request goes on the client the runtime has ready (direct-fetch.ts): Bun's fetch
// (http-fetch.ts) on a Bun that bounds unread bodies, else node:http (http-node.ts); both
// answer alike.
import { RevError } from '../errors.js';
import { boundsBodies, fetchIsDirect } from './direct-fetch.js';
import { hostOf, redactUrl, type HttpInit, type HttpOptions, type HttpResponse } from './http-base.js';
import { requestFetch } from './http-fetch.js';
import { requestNode } from './http-node.js';

export { hostOf, HttpTimeout, networkError, redactUrl, type HttpBody, type HttpOptions, type HttpResponse } from './http-base.js';

/** Whether the fetchers' requests go on Bun's fetch: a pack or an archive may be gigabytes, so only on a Bun that holds back what is unread. */
export function carriedByFetch(): boolean {
  return fetchIsDirect() && boundsBodies();
}

export async function httpRequest(
  url: string,
  /** redirect 'manual': 3xx answers come back as they are (the caller follows them). */
  init: HttpInit & { redirect?: 'follow' | 'manual' },
  opts: HttpOptions = {},
): Promise<HttpResponse> {
  const requestOnce = carriedByFetch() ? requestFetch : requestNode;
  let at = url;
  let token = opts.token;
  for (let hops = 0; ; hops++) {
    const res = await requestOnce(at, init, { ...opts, token });
    const location = res.headers.location;
    if (init.redirect === 'manual' || res.statusCode < 300 || res.statusCode >= 400 || res.statusCode === 304 || !location) return res;
    res.body.resume();
    if (hops === 5) throw new RevError('UNREACHABLE', `${hostOf(url)} redirected more than 5 times; check the source URL.`, { data: { host: hostOf(url) } });
    const next = new URL(String(location), at);
    // A credential is for the origin it was given for, never for where a redirect points.
    if (next.origin !== new URL(at).origin) token = undefined;
    at = next.toString();
  }
}

export function statusError(url: string, status: number, what: string): RevError {
  if (status === 401 || status === 403) {
    return new RevError(
      'AUTH',
      `${hostOf(url)} refused access to ${what} (HTTP ${status}); store a valid token with \`toes env set <app> REV_TOKEN\` (it reads the token from stdin), or for every app with \`toes env set -g REV_TOKEN --host ${hostOf(url)}\`, and deploy again.`,
      { data: { host: hostOf(url), status } },
    );
  }
  if (status === 404) {
    return new RevError('REF_NOT_FOUND', `${redactUrl(url)} was not found (HTTP 404); check the source URL.`, { data: { status } });
  }
  return new RevError('UNREACHABLE', `${hostOf(url)} answered HTTP ${status} for ${what}; try again later or check the source URL.`, {
    data: { host: hostOf(url), status },
  });
}
