// Carrying out a restart plan. Every adapter answers with the same shape: whether the
// supervisor accepted the restart, and if not, one sentence saying why.
import fs from 'node:fs/promises';
import { ping } from './ping.js';
import type { RestartPlan } from './plan.js';

export interface RestartOutcome {
  ok: boolean;
  /** The supervisor could not be asked at all (as opposed to refusing or failing). */
  unreachable?: boolean;
  /** What happened, for the deploy log and the result. */
  detail: string;
}

export async function restart(plan: RestartPlan, timeoutMs: number, env: Record<string, string>): Promise<RestartOutcome> {
  switch (plan.kind) {
    case 'none':
      return { ok: true, detail: 'no supervisor configured: nothing restarted' };
    case 'toes':
      return restartToes(plan.url, timeoutMs);
    case 'command':
      return restartCommand(plan.file, plan.args, timeoutMs, env);
    case 'signal':
      return restartSignal(plan.pidfile, plan.signal);
  }
}

async function restartToes(url: string, timeoutMs: number): Promise<RestartOutcome> {
  try {
    const status = await ping(url, { method: 'POST', body: '{}', timeoutMs });
    if (status >= 200 && status < 300) return { ok: true, detail: `the Toes server restarted the app (HTTP ${status})` };
    return { ok: false, detail: `the Toes server answered HTTP ${status} to the restart` };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return { ok: false, unreachable: true, detail: `the Toes server could not be reached (${code})` };
  }
}

async function restartCommand(file: string, args: string[], timeoutMs: number, env: Record<string, string>): Promise<RestartOutcome> {
  const { execa } = await import('execa');
  const res = await execa(file, args, { env, extendEnv: false, reject: false, timeout: timeoutMs, forceKillAfterDelay: 2_000, stdin: 'ignore', all: true });
  if (res.timedOut) return { ok: false, detail: `the restart command did not finish within ${Math.round(timeoutMs / 1000)}s and was stopped` };
  if ((res as { code?: string }).code === 'ENOENT') return { ok: false, detail: `the restart command ${file} was not found` };
  if (res.exitCode !== 0) {
    const tail = String(res.all ?? '').trim().split('\n').slice(-3).join(' / ');
    return { ok: false, detail: `the restart command exited with code ${res.exitCode}${tail ? `: ${tail}` : ''}` };
  }
  return { ok: true, detail: `ran ${file}` };
}

async function restartSignal(pidfile: string, signal: NodeJS.Signals): Promise<RestartOutcome> {
  let text: string;
  try {
    text = await fs.readFile(pidfile, 'utf8');
  } catch {
    return { ok: false, detail: `the pidfile ${pidfile} does not exist` };
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 1) return { ok: false, detail: `the pidfile ${pidfile} does not hold a pid` };
  try {
    process.kill(pid, signal);
    return { ok: true, detail: `sent ${signal} to pid ${pid}` };
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ESRCH' ? 'no such process (a stale pidfile)' : (err as Error).message;
    return { ok: false, detail: `could not signal pid ${pid} from ${pidfile}: ${why}` };
  }
}
