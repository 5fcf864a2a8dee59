// Listening on a host and port, for `toes serve` and `toes relay` alike: the errors a
// person can fix become one sentence that says how, and the server is closed the same way
// (answer what is inside, cut off a client that stalls).
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RevError } from '../../errors.js';

/** A host as it goes into a URL (IPv6 literals in brackets). */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export function listen(server: http.Server, host: string, port: number): Promise<{ port: number; url: string }> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new RevError('PORT_IN_USE', `Port ${port} on ${host} is already in use; pick another with --port.`));
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') reject(new RevError('USAGE', `Cannot listen on ${host}: no such address here; use --host 127.0.0.1 or 0.0.0.0.`));
      else if (err.code === 'EACCES') reject(new RevError('USAGE', `Not allowed to listen on port ${port}; use a port above 1023.`));
      else reject(err);
    });
    server.listen(port, host, () => {
      const bound = (server.address() as AddressInfo).port;
      resolve({ port: bound, url: `http://${urlHost(host)}:${bound}` });
    });
  });
}

/**
 * Stops taking connections and resolves once the server is closed. Requests already inside
 * get their answers; connections still open `graceMs` later are cut.
 */
export async function closeServer(server: http.Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((r) => server.close(() => r()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  timer.unref();
  await closed;
  clearTimeout(timer);
}
