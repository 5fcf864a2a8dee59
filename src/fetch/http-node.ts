// One request on node:http(s): what Node runs, and Bun too when a proxy variable is set
// (see direct-fetch.ts). (undici was used here first: its llhttp WebAssembly and module
// graph cost a deploy ~50 MB of peak memory and ~100 ms of start-up on Node.)
import type http from 'node:http';
import { authHeaders, httpUrl, HttpTimeout, isNetworkError, networkError, type HttpBody, type HttpInit, type HttpOptions, type HttpResponse } from './http-base.js';

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

function bodyOf(res: http.IncomingMessage): HttpBody {
  return {
    async *[Symbol.asyncIterator]() {
      for await (const chunk of res) yield chunk as Buffer;
      // A body cut short before its announced length ends quietly here; fetch throws.
      if (!res.complete) throw Object.assign(new Error('incomplete body'), { code: 'ECONNRESET' });
    },
    destroy: (err) => void res.destroy(err),
    resume: () => void res.resume(),
  };
}

export async function requestNode(url: string, init: HttpInit, opts: HttpOptions): Promise<HttpResponse> {
  const timeout = opts.timeoutMs ?? 30_000;
  const u = httpUrl(url);
  const client = await clientFor(u.protocol as 'http:' | 'https:');
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
      resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: bodyOf(res) });
    });
    req.on('error', (err) => {
      clearTimeout(waiting);
      reject(isNetworkError(err) ? networkError(url, err) : err);
    });
    req.end(init.body);
  });
}
