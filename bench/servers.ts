// What the webhook and relay benches share: the CLI's servers started as their own
// processes (log to a file: reading thousands of lines through a pipe would load the
// sender), their memory, and a burst of signed webhooks over keep-alive connections.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { standard } from '../test/fixtures/hooks.js';
import { launcher, type Runtime } from './toes.js';

export interface Server {
  child: ChildProcess;
  url: string;
  /** The JSON log lines so far. */
  lines(): any[];
}

/** `toes <args> --json`, once it logs `listening` (`bin`: another checkout's bin/toes, for a before/after). */
export async function startServer(args: string[], env: NodeJS.ProcessEnv, logFile: string, runtime: Runtime, bin = launcher): Promise<Server> {
  const fd = fs.openSync(logFile, 'w');
  const child = spawn(bin, [...args, '--json'], { env: { ...env, TOES_RUNTIME: runtime }, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const lines = () => {
    const text = fs.readFileSync(logFile, 'utf8');
    // Whole lines only: the last one may be half written.
    return text
      .slice(0, text.lastIndexOf('\n') + 1)
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    const l = lines().find((x) => x.event === 'listening');
    if (l) return { child, url: l.url, lines };
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`toes ${args[0]} did not start: ${fs.readFileSync(logFile, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('close', r));
}

export function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** CPU time the process itself has used so far (user + system, not its children's), in ms. */
export function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), from field 3 on: utime and stime are 14 and 15.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
}

/** USER_HZ, 100 on Linux everywhere that matters. */
const CLOCK_TICKS = 100;

/**
 * Posts `n` signed pushes to `pathname` over `conns` keep-alive connections, each answered
 * 202 or the bench fails; returns how many were answered per second.
 */
export async function burst(url: string, pathname: string, secret: string, n: number, conns: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
  // Signed beforehand: the sender's own work should not count.
  const deliveries = Array.from({ length: n }, () => standard(secret, { type: 'save', ref: 'refs/heads/main', repo: 'me/app', timestamp: new Date().toISOString() }));
  const u = new URL(url);
  const one = (i: number) =>
    new Promise<number>((resolve, reject) => {
      const d = deliveries[i];
      const req = http.request({ hostname: u.hostname, port: u.port, path: pathname, method: 'POST', agent, headers: { ...d.headers, 'content-length': d.body.length } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.end(d.body);
    });
  let next = 0;
  let bad = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: conns }, async () => {
      while (next < n) if ((await one(next++)) !== 202) bad++;
    }),
  );
  const s = (performance.now() - t0) / 1000;
  agent.destroy();
  if (bad) throw new Error(`${bad} of ${n} webhooks were not acknowledged with 202`);
  return n / s;
}
