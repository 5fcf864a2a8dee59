// HTTP for the fetchers, on the platform's own node:http: timeouts on every request,
// redirects that drop credentials across origins, and errors translated into RevErrors that
// name the host but never a credential. (undici was used here first: its llhttp WebAssembly
// and module graph cost a deploy ~50 MB of peak memory and ~100 ms of start-up on Node.)
import type http from 'node:http';
import { RevError } from '../errors.js';

export interface HttpOptions {
  /** A bearer-style secret (REV_TOKEN); sent only in the Authorization header. */
  token?: string;
  /** Milliseconds to wait for response headers and between body chunks. */
  timeoutMs?: number;
  /** Ends the request and its body when the deploy's download deadline passes. */
  signal?: AbortSignal;
}

export interface HttpResponse {
  statusCode: number;
  headers: http.IncomingHttpHeaders;
  /** Readable and async-iterable; errors while reading are the raw socket's. */
  body: http.IncomingMessage;
}

/** Nothing arrived within the timeout: before the headers, or between two body chunks. */
export class HttpTimeout extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(readonly phase: 'headers' | 'body') {
    super(phase === 'headers' ? 'no answer in time' : 'no data in time');
  }
}

// Kept alive, so the discovery and the pack request share one connection.
// node:http(s) load on first request (node:https alone costs about 15 ms to load): a
// command that only names a URL, and a deploy from plain http, never load what it skips.
type Client = { request: typeof http.request; agent: http.Agent };
const clients: Partial<Record<'http:' | 'https:', Promise<Client>>> = {};

function clientFor(protocol: 'http:' | 'https:'): Promise<Client> {
  return (clients[protocol] ??= (protocol === 'https:' ? import('node:https') : import('node:http')).then((mod) => ({
    request: mod.request as typeof http.request,
    agent: new mod.Agent({ keepAlive: true, maxSockets: 8 }),
  })));
}

function isNetworkError(err: unknown): boolean {
  if (err instanceof HttpTimeout) return true;
  const code = (err as NodeJS.ErrnoException)?.code;
  return typeof code === 'string' && /^(E[A-Z]+|ERR_STREAM_PREMATURE_CLOSE|HPE_.*)$/.test(code);
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

async function requestOnce(url: string, init: { method?: string; headers?: Record<string, string>; body?: Buffer }, opts: HttpOptions): Promise<HttpResponse> {
  const timeout = opts.timeoutMs ?? 30_000;
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RevError('USAGE', `${redactUrl(url)} is not an http(s) URL.`);
  const client = await clientFor(u.protocol);
  return new Promise((resolve, reject) => {
    const req = client.request(u, {
      method: init.method ?? 'GET',
      headers: { ...init.headers, ...authHeaders(opts.token) },
      agent: client.agent,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const waiting = setTimeout(() => req.destroy(new HttpTimeout('headers')), timeout);
    req.on('response', (res) => {
      clearTimeout(waiting);
      // Idle between chunks: a body that stops arriving is cut off, however long it is.
      res.setTimeout(timeout, () => res.destroy(new HttpTimeout('body')));
      resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: res });
    });
    req.on('error', (err) => {
      clearTimeout(waiting);
      reject(isNetworkError(err) ? networkError(url, err) : err);
    });
    req.end(init.body);
  });
}

export async function httpRequest(
  url: string,
  /** redirect 'manual': 3xx answers come back as they are (the caller follows them). */
  init: { method?: string; headers?: Record<string, string>; body?: Buffer; redirect?: 'follow' | 'manual' },
  opts: HttpOptions = {},
): Promise<HttpResponse> {
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

export function networkError(url: string, err: unknown): RevError {
  const code = (err as NodeJS.ErrnoException)?.code ?? (err as Error)?.name ?? 'error';
  const why =
    err instanceof HttpTimeout
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
