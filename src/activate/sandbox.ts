// The sandbox a build step (bun install, predeploy) runs in, as a command prefix. With
// bubblewrap: the whole file system read-only, the new release, a private /tmp and Bun's
// cache writable, toes-rev's state, the other releases and the apps' data hidden, and a PID
// namespace whose processes all die with the step (setsid and daemons included: the kernel
// kills a namespace when its first process ends). Without bubblewrap, `unshare` still gives
// the PID namespace where the kernel lets this user have one. Where neither works (macOS),
// the step runs as before, in its own process group.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RevError } from '../errors.js';

export type SandboxMode = 'auto' | 'on' | 'off';

export interface SandboxSpec {
  mode: SandboxMode;
  /** false: no network inside (bwrap only; unshare cannot take it away and keep installs working). */
  network: boolean;
  /** The one tree the build may write: the staging directory of the new release. */
  staging: string;
  /** Trees the build must not see at all (toes-rev's state, every release, every app's data). */
  hide: string[];
  /** Trees inside the hidden ones the build may read (the app's own data directory). */
  readOnly: string[];
  /** The environment the step gets: where Bun keeps its cache is read from it. */
  env: Record<string, string>;
  app: string;
}

export interface SandboxPlan {
  kind: 'bwrap' | 'pid' | 'none';
  /** Put before the command. */
  prefix: string[];
  /** The step's environment, with what the sandbox changes (TMPDIR, Bun's cache). */
  env: Record<string, string>;
  /** Said once in the deploy's output when the build runs with less than asked for. */
  warning?: string;
}

const probed = new Map<string, boolean>();

/** Whether `argv` runs here; learnt once per process (a few ms: one namespace set up and torn down). */
function works(argv: string[]): boolean {
  const key = argv.join('\0');
  let ok = probed.get(key);
  if (ok === undefined) {
    const r = spawnSync(argv[0], [...argv.slice(1), 'true'], { stdio: 'ignore', timeout: 10_000 });
    ok = r.status === 0;
    probed.set(key, ok);
  }
  return ok;
}

function bwrapPath(): string {
  return process.env.TOES_BWRAP || 'bwrap';
}

function unsharePath(): string {
  return process.env.TOES_UNSHARE || 'unshare';
}

const BWRAP_BASE = ['--die-with-parent', '--new-session', '--unshare-pid', '--unshare-ipc', '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc'];

/** A PID namespace without bubblewrap; a user namespace too where this is not root. */
function unshareArgs(): string[] {
  const user = process.getuid?.() === 0 ? [] : ['--user', '--map-root-user'];
  return [unsharePath(), ...user, '--pid', '--fork', '--kill-child', '--mount-proc'];
}

/** Where `bun install` keeps its cache for this environment (Bun's own rule). */
export function bunCacheDir(env: Record<string, string | undefined>): string {
  if (env.BUN_INSTALL_CACHE_DIR) return env.BUN_INSTALL_CACHE_DIR;
  if (env.BUN_INSTALL) return path.join(env.BUN_INSTALL, 'install', 'cache');
  return path.join(env.HOME || os.homedir(), '.bun', 'install', 'cache');
}

function real(p: string): string | undefined {
  try {
    return fs.realpathSync(p);
  } catch {
    return undefined;
  }
}

const within = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

/** The bubblewrap arguments for a spec: pure, so the mount order can be read in one place. */
export function bwrapArgs(spec: SandboxSpec, cache: string): string[] {
  const args = [bwrapPath(), ...BWRAP_BASE];
  if (!spec.network) args.push('--unshare-net');
  // Later mounts go on top of earlier ones: hide first, then open what the build may use.
  const hidden: string[] = ['/tmp'];
  args.push('--tmpfs', '/tmp');
  for (const dir of spec.hide.map(real).filter((d): d is string => !!d)) {
    if (hidden.some((h) => within(dir, h))) continue;
    hidden.push(dir);
    args.push('--tmpfs', dir);
  }
  for (const dir of spec.readOnly.map(real).filter((d): d is string => !!d)) args.push('--ro-bind', dir, dir);
  const staging = real(spec.staging) ?? spec.staging;
  args.push('--bind', cache, cache, '--bind', staging, staging, '--chdir', staging, '--');
  return args;
}

export function sandboxPlan(spec: SandboxSpec): SandboxPlan {
  if (spec.mode === 'off') return { kind: 'none', prefix: [], env: spec.env };
  if (works([bwrapPath(), ...BWRAP_BASE])) {
    const cache = bunCacheDir(spec.env);
    fs.mkdirSync(cache, { recursive: true });
    const cacheReal = real(cache) ?? cache;
    return { kind: 'bwrap', prefix: bwrapArgs(spec, cacheReal), env: { ...spec.env, TMPDIR: '/tmp', BUN_INSTALL_CACHE_DIR: cacheReal } };
  }
  if (spec.mode === 'on') {
    throw new RevError('SANDBOX_UNAVAILABLE', `build.sandbox is on for ${spec.app}, but bubblewrap (bwrap) does not work on this machine; install it (apt-get install bubblewrap) or set \`toes config set ${spec.app} build.sandbox auto\`.`, {
      data: { app: spec.app },
    });
  }
  const pid = unshareArgs();
  const contained = works(pid);
  const warning = `builds of ${spec.app} run without a sandbox (bubblewrap not found or not working here): they can read and write whatever this user can${contained ? '; each step still runs in its own PID namespace' : ''}. Install bubblewrap, or set build.sandbox off to silence this.`;
  return contained ? { kind: 'pid', prefix: pid, env: spec.env, warning } : { kind: 'none', prefix: [], env: spec.env, warning };
}
