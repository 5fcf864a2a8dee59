// Runs one command and measures it from the outside: wall time of the whole process
// (start-up included, as a user feels it) and, on request, the process's own peak RSS.
import { spawn } from 'node:child_process';
import fs from 'node:fs';

export interface Sample {
  ms: number;
  /** Peak resident memory of the spawned process itself (VmHWM), in KiB. */
  peakKb?: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOpts {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Poll /proc/<pid>/status for VmHWM; children (bun install) are not counted. */
  peak?: boolean;
}

/**
 * VmHWM is a high-water mark, so polling only misses growth in the last interval before
 * exit. /usr/bin/time would be exact but reports the largest of the whole process tree
 * (wait4 folds in reaped children), which would let bun's peak stand in for node's.
 */
function readHwm(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function runTimed(cmd: string, args: string[], opts: RunOpts): Promise<Sample> {
  const t0 = performance.now();
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let peakKb: number | undefined;
  let ms = 0;
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const poll = () => {
    const v = child.pid && readHwm(child.pid);
    if (v) peakKb = Math.max(peakKb ?? 0, v);
  };
  const timer = opts.peak ? setInterval(poll, 5) : undefined;
  child.on('exit', () => {
    ms = performance.now() - t0;
    if (timer) clearInterval(timer);
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms, peakKb, code, stdout, stderr }));
  });
}

/** `du -sk` over several paths in one invocation, so hardlinked files count once. */
export function duKb(paths: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('du', ['-skc', ...paths], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const total = /^(\d+)\s+total$/m.exec(out);
      if (code !== 0 || !total) reject(new Error(`du failed (${code}): ${out}`));
      else resolve(Number(total[1]));
    });
  });
}
