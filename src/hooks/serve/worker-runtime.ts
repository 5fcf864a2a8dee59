// Which runtime `toes serve` starts its deploy workers on, by the rule bin/toes applies to
// the CLI: TOES_RUNTIME if set, else Bun when a usable Bun (1.2+) is on PATH, else Node.
// A worker is a short-lived process, so its start-up is most of a small deploy: Bun starts
// in a tenth of Node's time. The daemon may itself run on either; it decides once.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { RevError } from '../../errors.js';

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    const file = path.join(dir || '.', name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {}
  }
  return undefined;
}

/** `bun --version` says 1.2 or newer, which also proves the binary runs on this CPU. */
export function isUsableBunVersion(version: string): boolean {
  const m = /^(\d+)\.(\d+)\./.exec(version.trim());
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 1 || (major === 1 && minor >= 2);
}

function usableBun(file: string): boolean {
  const r = spawnSync(file, ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
  return r.status === 0 && isUsableBunVersion(r.stdout ?? '');
}

/** The executable for deploy workers under this environment. */
export function workerExecutable(env: NodeJS.ProcessEnv = process.env): string {
  const running = process.versions.bun ? 'bun' : 'node';
  const wanted = env.TOES_RUNTIME || undefined;
  if (wanted !== undefined && wanted !== 'node' && wanted !== 'bun') {
    throw new RevError('USAGE', `TOES_RUNTIME must be node or bun, not "${wanted}"; unset it to let toes choose.`);
  }
  if (wanted === running || (!wanted && running === 'bun')) return process.execPath;
  if (wanted === 'node') return onPath('node', env) ?? process.execPath;
  const bun = onPath('bun', env);
  if (wanted === 'bun') {
    if (!bun) throw new RevError('USAGE', 'TOES_RUNTIME=bun, but there is no bun on PATH; install Bun (https://bun.sh) or unset TOES_RUNTIME.');
    return bun;
  }
  return bun && usableBun(bun) ? bun : process.execPath;
}

let chosen: string | undefined;

/** workerExecutable, decided on first use and kept for the daemon's life. */
export function workerRuntime(): string {
  return (chosen ??= workerExecutable());
}
