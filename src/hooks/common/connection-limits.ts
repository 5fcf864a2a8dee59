// Shedding idle and junk connections, for `toes serve` and `toes relay` alike. Node's own
// headersTimeout never fires for a connection that sends nothing, and Bun ignores it, so
// a few hundred silent sockets would hold the process's file descriptors forever and the
// next real request (a webhook, /health) would find none left. Here every connection
// must bring a request within a bound, and past a cap the oldest idle one makes room.
import fs from 'node:fs';
import type http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { EventLog } from './event-log.js';

export interface ConnectionLimits {
  /** Open connections at most; past it the oldest idle one is closed (or, with none idle, the newcomer). */
  maxConnections: number;
  /** A connection that sent nothing since it opened or since its last answer is closed after this. */
  idleMs: number;
  /** One that began a request header but did not finish it is closed after this. */
  headersMs: number;
}

export interface Guard {
  /** A connection that became a WebSocket: long-lived by design, never idle, never evicted. */
  upgraded(socket: Duplex): void;
}

/** Long enough for any client that means to send a request; short enough that junk cannot pile up. */
export const DEFAULT_IDLE_MS = 5_000;

/** How often at most the counts of shed connections are reported. */
const REPORT_MS = 10_000;

interface Tracked {
  /** When it last had no request in flight: opened, or its last answer ended. */
  since: number;
  /** Bytes read by then: more means a request has begun arriving. */
  readAt: number;
  inflight: number;
  upgraded: boolean;
}

/** The soft limit on open files, where the system tells it cheaply (Linux), else undefined. */
export function fdLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The default cap: `preferred`, but never so close to the open-file limit that journals,
 * deploy workers' pipes and file watchers find no descriptor left.
 */
export function defaultMaxConnections(preferred: number, limit = fdLimit()): number {
  if (limit === undefined) return preferred;
  return Math.max(16, Math.min(preferred, limit - Math.max(64, Math.floor(limit / 4))));
}

/** What a server runs with: the limits given, else the defaults (the header bound is the read timeout). */
export function connectionLimits(given: { maxConnections?: number; idleTimeoutMs?: number }, headersMs: number, preferredMax: number): ConnectionLimits {
  return { maxConnections: given.maxConnections ?? defaultMaxConnections(preferredMax), idleMs: given.idleTimeoutMs ?? DEFAULT_IDLE_MS, headersMs };
}

/**
 * Applies the limits to a server (before it listens). What was shed is logged as counts at
 * most every few seconds, not once per connection, so a flood cannot flood the log too.
 */
export function hardenServer(server: http.Server, limits: ConnectionLimits, log?: EventLog): Guard {
  // Insertion order is connection order: the first idle one found is the oldest.
  const open = new Map<Duplex, Tracked>();
  // Closed for sending nothing, for a header too slow, to make room, or refused at the cap.
  let shed = { idle: 0, slow: 0, evicted: 0, refused: 0 };
  let reported = 0;
  const bytesRead = (s: Duplex) => (s as Socket).bytesRead ?? 0;
  const idle = (t: Tracked) => t.inflight === 0 && !t.upgraded;

  server.keepAliveTimeout = limits.idleMs;
  server.on('connection', (socket: Socket) => {
    if (open.size >= limits.maxConnections) {
      // A connection that has not sent a byte is the likeliest junk; then any idle one.
      let victim: Duplex | undefined;
      for (const [s, t] of open) {
        if (!idle(t)) continue;
        victim ??= s;
        if (bytesRead(s) === t.readAt) {
          victim = s;
          break;
        }
      }
      if (!victim) {
        shed.refused++;
        return void socket.destroy();
      }
      shed.evicted++;
      victim.destroy();
      open.delete(victim);
    }
    open.set(socket, { since: Date.now(), readAt: 0, inflight: 0, upgraded: false });
    socket.once('close', () => open.delete(socket));
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const t = open.get(req.socket);
    if (!t) return;
    t.inflight++;
    res.once('close', () => {
      if (--t.inflight > 0) return;
      t.since = Date.now();
      t.readAt = bytesRead(req.socket);
    });
  });

  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const [s, t] of open) {
        if (!idle(t)) continue;
        const begun = bytesRead(s) > t.readAt;
        if (now - t.since < (begun ? limits.headersMs : limits.idleMs)) continue;
        if (begun) shed.slow++;
        else shed.idle++;
        s.destroy();
        open.delete(s);
      }
      if (log && now - reported >= REPORT_MS && shed.idle + shed.slow + shed.evicted + shed.refused > 0) {
        reported = now;
        log('shed', { ...shed, open: open.size });
        shed = { idle: 0, slow: 0, evicted: 0, refused: 0 };
      }
    },
    Math.max(50, Math.min(1_000, limits.idleMs / 4)),
  );
  sweep.unref();
  server.once('close', () => clearInterval(sweep));

  return {
    upgraded(socket) {
      const t = open.get(socket);
      if (t) t.upgraded = true;
    },
  };
}
