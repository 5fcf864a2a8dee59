// One small HTTP request to a supervisor or an app's health URL, on node:http(s). These
// run on the rollback path, where loading a full HTTP client would cost more than the
// request itself; even node:http(s) load on first use (node:https alone is 15 ms on both
// runtimes), so a rollback with no supervisor loads neither.

export async function ping(url: string, opts: { method?: string; body?: string; timeoutMs: number }): Promise<number> {
  const u = new URL(url);
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
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(opts.body);
  });
}
