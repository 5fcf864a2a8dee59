// One request on Bun's own fetch, which is ready at start-up where node:http costs Bun
// about 15 ms of JavaScript (node:http, node:stream, node:net) at first use: most of a
// one-commit deploy's probe. Only where fetch goes direct (direct-fetch.ts). It is made
// to behave as the node:http transport does: bytes as sent (no decompression), our
// headers, redirects returned as they are, the same time-outs, Node's error codes.
import { authHeaders, httpUrl, HttpTimeout, isNetworkError, networkError, type HttpBody, type HttpInit, type HttpOptions, type HttpResponse } from './http-base.js';

// Older Bun names failures its own way; the messages (networkError) know Node's codes.
const NODE_CODES: Record<string, string> = { ConnectionRefused: 'ECONNREFUSED', FailedToOpenSocket: 'ECONNREFUSED', ConnectionClosed: 'ECONNRESET' };

function withNodeCode(err: unknown): unknown {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string') return err;
  const node = NODE_CODES[code] ?? (code.startsWith('DNS') ? 'ENOTFOUND' : undefined);
  return node ? Object.assign(new Error((err as Error).message, { cause: err }), { code: node }) : err;
}

/** Ended by our side (destroy), as node:stream reports a body read after it is destroyed. */
function prematureClose(): Error {
  return Object.assign(new Error('premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

class FetchBody implements HttpBody {
  private reader?: ReadableStreamDefaultReader<Uint8Array>;
  private over = false;
  private failure?: Error;

  constructor(
    private readonly stream: ReadableStream<Uint8Array> | null,
    private readonly ac: AbortController,
    private readonly idleMs: number,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    if (!this.stream) return;
    const reader = (this.reader ??= this.stream.getReader());
    try {
      for (;;) {
        // Idle between chunks, as node:http's socket time-out: only while waiting on the network.
        let stalled: HttpTimeout | undefined;
        const idle = setTimeout(() => this.ac.abort((stalled = new HttpTimeout('body'))), this.idleMs);
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await reader.read();
        } catch (err) {
          throw stalled ?? (this.over ? (this.failure ?? prematureClose()) : withNodeCode(err));
        } finally {
          clearTimeout(idle);
        }
        if (stalled) throw stalled;
        if (next.done) {
          if (this.over) throw this.failure ?? prematureClose();
          this.over = true;
          return;
        }
        yield Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      }
    } finally {
      // A reader that stops early (a break, a throw) hangs up, as node:http does.
      this.destroy();
    }
  }

  destroy(err?: Error): void {
    if (this.over) return;
    this.over = true;
    this.failure = err;
    this.ac.abort(err);
    (this.reader ? this.reader.cancel(err) : this.stream?.cancel(err))?.catch(() => undefined);
  }

  resume(): void {
    void (async () => {
      for await (const _ of this);
    })().catch(() => undefined);
  }
}

function headersOf(h: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  h.forEach((value, name) => (out[name] = value));
  return out;
}

export async function requestFetch(url: string, init: HttpInit, opts: HttpOptions): Promise<HttpResponse> {
  const timeout = opts.timeoutMs ?? 30_000;
  const u = httpUrl(url);
  const ac = new AbortController();
  let stalled: HttpTimeout | undefined;
  const waiting = setTimeout(() => ac.abort((stalled = new HttpTimeout('headers'))), timeout);
  let res: Response;
  try {
    res = await fetch(u, {
      method: init.method ?? 'GET',
      headers: { ...init.headers, ...authHeaders(opts.token) },
      body: init.body,
      signal: opts.signal ? AbortSignal.any([opts.signal, ac.signal]) : ac.signal,
      // The caller follows redirects (http.ts), dropping the token across origins.
      redirect: 'manual',
      // Bun's own option: the tarball's hash and the git protocol need the bytes as sent.
      // (It also keeps Bun from asking for gzip: node:http never asked.)
      decompress: false,
    } as RequestInit);
  } catch (err) {
    const e = stalled ?? withNodeCode(err);
    throw isNetworkError(e) ? networkError(url, e) : e;
  } finally {
    clearTimeout(waiting);
  }
  return { statusCode: res.status, headers: headersOf(res.headers), body: new FetchBody(res.body, ac, timeout) };
}
