// One small HTTP request to a supervisor or an app's health URL. These run on the rollback
// path, where loading an HTTP client costs more than the request itself, so each runtime
// uses the one it has ready: on Node, node:http(s) (fetch would load undici first); on
// Bun, the native fetch (node:http is about 15 ms of JavaScript, node:stream and net
// included, loaded at first use: more than a restart waits for a small app). Either way:
// no proxy, no redirect followed, no connection kept, a time-out is an error with code
// ETIMEDOUT.
import { fetchIsDirect } from '../../fetch/direct-fetch.js';

export interface PingOptions {
  method?: string;
  body?: string;
  timeoutMs: number;
}

export async function ping(url: string, opts: PingOptions): Promise<number> {
  const u = new URL(url);
  return fetchIsDirect() ? pingFetch(u, opts) : pingNode(u, opts);
}

function timedOut(): Error {
  return Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' });
}

async function pingFetch(u: URL, opts: PingOptions): Promise<number> {
  try {
    const res = await fetch(u, {
      method: opts.method ?? 'GET',
      headers: opts.body ? { 'content-type': 'application/json' } : { 'cache-control': 'no-cache' },
      body: opts.body,
      signal: AbortSignal.timeout(opts.timeoutMs),
      redirect: 'manual',
      // Bun reads this as "do not reuse the connection".
      keepalive: false,
    });
    await res.arrayBuffer();
    return res.status;
  } catch (err) {
    throw (err as Error).name === 'TimeoutError' ? timedOut() : err;
  }
}

async function pingNode(u: URL, opts: PingOptions): Promise<number> {
  const mod = u.protocol === 'https:' ? await import('node:https') : await import('node:http');
  return new Promise((resolve, reject) => {
    const req = mod.request(
      u,
      {
        method: opts.method ?? 'GET',
        headers: opts.body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(opts.body) } : { 'cache-control': 'no-cache' },
        timeout: opts.timeoutMs,
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(timedOut()));
    req.on('error', reject);
    req.end(opts.body);
  });
}
