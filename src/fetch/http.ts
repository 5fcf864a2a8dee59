// HTTP for the fetchers, on undici: timeouts on every request, redirects that drop
// credentials across origins, and errors translated into RevErrors that name the host but
// never a credential.
import { Agent, interceptors, request, errors as undiciErrors, type Dispatcher } from 'undici';
import { RevError } from '../errors.js';

export interface HttpOptions {
  /** A bearer-style secret (REV_TOKEN); sent only in the Authorization header. */
  token?: string;
  /** Milliseconds to wait for response headers and between body chunks. */
  timeoutMs?: number;
  /** Ends the request and its body when the deploy's download deadline passes. */
  signal?: AbortSignal;
}

let plain: Agent | undefined;
let following: Dispatcher | undefined;
/**
 * One agent per process keeps connections alive between the discovery and pack requests.
 * Under Bun, `undici` is Bun's own shim: no compose(), but request() follows redirects itself.
 */
function dispatcher(follow: boolean): Dispatcher | undefined {
  plain ??= new Agent({ connect: { timeout: 15_000 } });
  if (typeof plain.compose !== 'function') return undefined;
  if (!follow) return plain;
  following ??= plain.compose(interceptors.redirect({ maxRedirections: 5 }));
  return following;
}

function isNetworkError(err: unknown): boolean {
  if (err instanceof undiciErrors.UndiciError) return true;
  const code = (err as NodeJS.ErrnoException)?.code;
  return typeof code === 'string' && /^(E[A-Z]+|UND_ERR_.*)$/.test(code);
}

export function authHeaders(token: string | undefined): Record<string, string> {
  if (!token) return {};
  // Basic with a fixed user name is what GitHub, Gitea/Forgejo and rev.host all accept for tokens.
  return { authorization: 'Basic ' + Buffer.from(`x-access-token:${token}`).toString('base64') };
}

/** The URL with any user:password part and query string removed: safe for messages. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}

export function hostOf(raw: string): string {
  try {
    return new URL(raw).host;
  } catch {
    return raw;
  }
}

export async function httpRequest(
  url: string,
  /** redirect 'manual': 3xx answers come back as they are (the caller follows them). */
  init: { method?: string; headers?: Record<string, string>; body?: Buffer; redirect?: 'follow' | 'manual' },
  opts: HttpOptions = {},
): Promise<Dispatcher.ResponseData<unknown>> {
  const timeout = opts.timeoutMs ?? 30_000;
  try {
    const follow = init.redirect !== 'manual';
    const d = dispatcher(follow);
    return await request(url, {
      method: (init.method ?? 'GET') as Dispatcher.HttpMethod,
      headers: { ...init.headers, ...authHeaders(opts.token) },
      body: init.body,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(d ? { dispatcher: d } : { maxRedirections: follow ? 5 : 0 }),
    } as Parameters<typeof request>[1]);
  } catch (err) {
    throw isNetworkError(err) ? networkError(url, err) : err;
  }
}

export function networkError(url: string, err: unknown): RevError {
  const code = (err as NodeJS.ErrnoException)?.code ?? (err as Error)?.name ?? 'error';
  const why =
    err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError
      ? 'it stopped answering'
      : code === 'ECONNREFUSED'
        ? 'the connection was refused'
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? 'the host name does not resolve'
          : `the connection failed (${code})`;
  return new RevError('UNREACHABLE', `Could not reach ${hostOf(url)}: ${why}; check the source URL and the network, then deploy again.`, {
    data: { host: hostOf(url), cause: code },
    cause: err,
  });
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
