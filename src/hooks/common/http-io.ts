// Reading a request body with a size limit and a deadline, and answering in a way the
// sender can always read, even when its body is refused half-way.
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  /**
   * The body is not wanted. `linger`: discard what the sender still sends for a few
   * seconds, so it can read the answer (closing with unread data makes the kernel reset
   * the connection, and the sender sees an error instead of the status); `now`: hang up.
   */
  close?: 'linger' | 'now';
}

const LINGER_MS = 5_000;

export function reply(req: IncomingMessage, res: ServerResponse, a: Reply, value: unknown): void {
  const body = JSON.stringify(value);
  const headers: Record<string, string | number> = { ...a.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  if (a.close) headers.connection = 'close';
  res.writeHead(a.status, headers);
  if (a.close !== 'linger' || req.complete) return void res.end(body);
  // The whole answer goes out now (its length is declared), but the connection is closed
  // only once the unwanted body has been read and dropped, or after a few seconds.
  res.write(body);
  req.removeAllListeners('data');
  req.resume();
  const end = () => {
    clearTimeout(timer);
    if (!res.writableEnded) res.end();
  };
  const timer = setTimeout(() => {
    end();
    req.socket.destroy();
  }, LINGER_MS);
  timer.unref();
  req.once('end', end);
  req.once('close', end);
}

export type BodyResult = { body: Buffer } | { refuse: Reply & { message: string } };

export function readBody(req: IncomingMessage, max: number, timeoutMs: number): Promise<BodyResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (r: BodyResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.removeAllListeners('data');
      resolve(r);
    };
    const timer = setTimeout(
      () => finish({ refuse: { status: 408, close: 'now', message: `the body did not arrive within ${timeoutMs / 1000} s` } }),
      timeoutMs,
    );
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) finish({ refuse: { status: 413, close: 'linger', message: `the body is over ${max} bytes` } });
      else chunks.push(c);
    });
    req.on('end', () => finish({ body: Buffer.concat(chunks) }));
    req.on('error', () => finish({ refuse: { status: 400, close: 'now', message: 'the request was cut off' } }));
    req.on('aborted', () => finish({ refuse: { status: 400, close: 'now', message: 'the request was cut off' } }));
  });
}

