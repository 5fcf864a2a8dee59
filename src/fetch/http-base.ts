// What the two HTTP transports (http-node.ts, http-fetch.ts) share with http.ts, which
// picks one of them per request: the shape of a request and its answer, the time-out
// error, and how a failure becomes a message that names the host but never a credential.
import { RevError } from '../errors.js';

export interface HttpOptions {
  /** A bearer-style secret (REV_TOKEN); sent only in the Authorization header. */
  token?: string;
  /** Milliseconds to wait for response headers and between body chunks. */
  timeoutMs?: number;
  /** Ends the request and its body when the deploy's download deadline passes. */
  signal?: AbortSignal;
}

export interface HttpInit {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer;
}

/**
 * A response body as both transports give it: no node:stream type (on Bun, fetch's body
 * is a web stream, and node:stream is slow to load). Buffers, views of what arrived.
 */
export interface HttpBody extends AsyncIterable<Buffer> {
  /** Hangs up: the rest is never read. Reading throws (or ends) afterwards. */
  destroy(err?: Error): void;
  /** Reads the rest and drops it, so the connection can serve the next request. */
  resume(): void;
}

export interface HttpResponse {
  statusCode: number;
  /** Names in lower case. */
  headers: Record<string, string | string[] | undefined>;
  /** Errors while reading carry Node's codes (ECONNRESET for a body cut short) on either transport. */
  body: HttpBody;
}

/** Nothing arrived within the timeout: before the headers, or between two body chunks. */
export class HttpTimeout extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(readonly phase: 'headers' | 'body') {
    super(phase === 'headers' ? 'no answer in time' : 'no data in time');
  }
}

export function isNetworkError(err: unknown): boolean {
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

/** The URL, checked to be one the transports can ask. */
export function httpUrl(url: string): URL {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RevError('USAGE', `${redactUrl(url)} is not an http(s) URL.`);
  return u;
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
