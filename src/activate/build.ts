// Building a release in place: `bun install` (frozen when the app has a lockfile), then
// `scripts.predeploy` when package.json defines one. Each runs with execa from an
// argument array in its own process group, so a timeout can stop the whole tree.
// Output goes to the release's deploy log; the tail is kept for the error message.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RevError } from '../errors.js';

export interface StepLog {
  write(text: string): void;
  tail(): string;
  /** The deploy log's path, for a message that is read where no log follows it. */
  file?: string;
}

export interface RunStepOptions {
  cwd: string;
  env: Record<string, string>;
  log: StepLog;
  /** Absolute deadline (ms since epoch) shared by install and predeploy. */
  deadline: number;
  label: string;
  /** The app, and the setting that turns this step off: named in the error messages. */
  app: string;
  setting: 'install' | 'predeploy';
  /** What the step runs inside (sandbox.ts): a command prefix, or none. */
  prefix?: string[];
  /** Where to note the step's process group while it runs, so a later command can stop
   * what a killed deploy left running (see reconcile). */
  pgidFile?: string;
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {}
}

export async function runStep(file: string, args: string[], opts: RunStepOptions): Promise<void> {
  opts.log.write(`$ ${[file, ...args].join(' ')}\n`);
  const remaining = opts.deadline - Date.now();
  if (remaining <= 0) throw timeoutError(opts);
  // Checked before the spawn: a missing program is told apart from a script's own 127.
  if (!findCommand(file, opts.env.PATH)) throw bunMissing(file, opts);
  // execa is loaded on first use: the CLI's other commands never need it.
  const { execa } = await import('execa');
  // Ctrl-C or a polite kill of toes stops the build too; it would otherwise run on alone.
  // The handlers go in before the spawn: a signal arriving in between would otherwise end
  // toes at once (the default action) and leave the build running.
  let pid: number | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    killGroup(pid, 'SIGKILL');
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // The step notes its own process group before it runs anything, so a later command can
  // stop it even if toes is killed -9 the instant after the spawn.
  const full = [...(opts.prefix ?? []), file, ...args];
  const [cmd, argv] = opts.pgidFile ? ['/bin/sh', ['-c', 'echo $$ > "$0"; exec "$@"', opts.pgidFile, ...full]] : [full[0], full.slice(1)];
  const child = execa(cmd, argv, {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: false,
    detached: true,
    stdin: 'ignore',
    all: true,
    buffer: false,
    reject: false,
  });
  pid = child.pid;
  child.all?.on('data', (chunk: Buffer) => opts.log.write(chunk.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(pid, 'SIGTERM');
    setTimeout(() => killGroup(pid, 'SIGKILL'), 2_000).unref();
  }, remaining);
  const res = await child;
  clearTimeout(timer);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (opts.pgidFile) fs.rmSync(opts.pgidFile, { force: true });
  // Background children of the step (a forgotten watcher) must not outlive the build.
  killGroup(pid, 'SIGKILL');
  if (timedOut) throw timeoutError(opts);
  if ((res as { code?: string }).code === 'ENOENT' || (res.failed && res.exitCode === undefined && !res.signal)) throw bunMissing(file, opts);
  const missing = res.exitCode === 127 ? missingCommand(opts.log.tail()) : undefined;
  if (missing) {
    throw new RevError('BUILD_FAILED', `${opts.label} of ${opts.app} ran "${missing}", which is not installed here (command not found, exit 127); add it to the app's dependencies or install it on this machine, or turn the step off with \`toes config set ${opts.app} ${opts.setting} false\`.`, {
      data: { stage: opts.label, exitCode: 127, missing, logTail: opts.log.tail() },
    });
  }
  if (res.exitCode !== 0) {
    const how = res.signal ? `was killed by ${res.signal}` : `exited with code ${res.exitCode}`;
    // Read also where no log follows (webhook status, the page, --json), and sent to the
    // forge as a commit status: name the release, not a path on this server.
    const where = opts.log.file ? `the deploy log of release ${path.basename(opts.log.file, '.log')}` : 'the deploy log';
    throw new RevError('BUILD_FAILED', `${opts.label} of ${opts.app} ${how}; see ${where}, fix the app and deploy again.`, {
      data: { stage: opts.label, exitCode: res.exitCode, logTail: opts.log.tail() },
    });
  }
}

function timeoutError(opts: RunStepOptions): RevError {
  return new RevError('BUILD_TIMEOUT', `${opts.label} did not finish within build.timeout and was stopped; raise it with \`toes config set ${opts.app} build.timeout SECONDS\` or fix the script.`, {
    data: { stage: opts.label, logTail: opts.log.tail() },
  });
}

function bunMissing(file: string, opts: RunStepOptions): RevError {
  return new RevError('BUILD_FAILED', `Could not run ${file} for ${opts.label} of ${opts.app}: it is not installed or not on PATH; install Bun 1.2+ (or \`npm ci\` beside toes, which brings one) or turn the step off with \`toes config set ${opts.app} ${opts.setting} false\`.`, {
    data: { stage: opts.label },
  });
}

/**
 * The program a shell could not find, from the step's output: dash (`sh: 1: x: not found`),
 * bash (`sh: line 1: x: command not found`) and Bun's shell (`bun: command not found: x`).
 */
export function missingCommand(tail: string): string | undefined {
  let found: string | undefined;
  for (const m of tail.matchAll(/([^\s:'"`]+): (?:command )?not found\b(?!:)|command not found: ([^\s'"`]+)/g)) found = m[1] ?? m[2];
  return found;
}

/** An executable file named `name` (a path, or looked up on PATH), or undefined. */
export function findCommand(name: string, PATH = process.env.PATH ?? ''): string | undefined {
  const ok = (p: string) => {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (name.includes('/')) return ok(name) ? name : undefined;
  return PATH.split(':').map((d) => path.join(d || '.', name)).find(ok);
}

/**
 * The Bun that `bun` names in package.json's devDependencies installs, beside toes: found as
 * Node finds a package, in node_modules of the folder toes runs from and of each folder above.
 */
export function besideBun(entry = process.argv[1]): string | undefined {
  if (!entry) return undefined;
  let dir = path.dirname(path.resolve(entry));
  for (;;) {
    const cand = path.join(dir, 'node_modules', 'bun', 'bin', 'bun.exe');
    if (findCommand(cand)) return cand;
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/**
 * The step's environment with `bun` on its PATH: scripts call `bun` by name, and with Bun
 * only beside toes there is none. A link to the Bun toes uses goes in a folder of toes' own
 * cache (readable from the sandbox) put first on PATH.
 */
export function withBunOnPath(env: Record<string, string>, bun: string): Record<string, string> {
  if (!path.isAbsolute(bun) || findCommand('bun', env.PATH)) return env;
  const dir = path.join(env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache'), 'toes-rev', 'bin');
  const link = path.join(dir, 'bun');
  try {
    if (fs.readlinkSync(link) !== bun) throw new Error('another bun');
  } catch {
    const tmp = `${link}.${process.pid}`;
    try {
      fs.mkdirSync(dir, { recursive: true });
      fs.rmSync(tmp, { force: true });
      fs.symlinkSync(bun, tmp);
      fs.renameSync(tmp, link);
    } catch {
      // A cache that cannot be written: scripts that call `bun` by name will say it is missing.
      fs.rmSync(tmp, { force: true });
      return env;
    }
  }
  return { ...env, PATH: env.PATH ? `${dir}:${env.PATH}` : dir };
}

/** The Bun that builds run: TOES_BUN, the one running toes, one on PATH, else the one beside toes. */
export function bunCommand(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TOES_BUN) return env.TOES_BUN;
  // Under Bun, use the very binary that runs us.
  if ((process.versions as Record<string, string | undefined>).bun) return process.execPath;
  if (findCommand('bun', env.PATH)) return 'bun';
  return besideBun() ?? 'bun';
}

export function hasLockfile(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'bun.lock')) || fs.existsSync(path.join(dir, 'bun.lockb'));
}

export function installArgs(dir: string): string[] {
  return hasLockfile(dir) ? ['install', '--frozen-lockfile'] : ['install'];
}

/** The lifecycle scripts `bun install` runs for the root package. */
export const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'preprepare', 'prepare', 'postprepare'];

/** Whether `bun install` has anything to do in `dir`: dependencies, a lockfile, or install scripts. */
export function needsInstall(dir: string): boolean {
  const pkg = readPackageJson(dir);
  const deps = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'].some((k) => Object.keys((pkg[k] as object) ?? {}).length > 0);
  return deps || hasLockfile(dir) || INSTALL_SCRIPTS.some((s) => pkg.scripts?.[s]);
}

export function readPackageJson(dir: string): { scripts?: Record<string, string>; [k: string]: unknown } {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  } catch (err) {
    throw new RevError('NO_PACKAGE_JSON', `package.json in this release is not valid JSON (${(err as Error).message}); fix it and deploy again.`);
  }
}

/** A file-backed step log that also remembers the last lines for error messages. */
export function fileLog(file: string, onText?: (text: string) => void): StepLog & { close(): void } {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'a', 0o600);
  let tail = '';
  return {
    file,
    write(text: string) {
      fs.writeSync(fd, text);
      tail = (tail + text).slice(-4000);
      onText?.(text);
    },
    tail() {
      return tail.split('\n').slice(-20).join('\n').trim();
    },
    close() {
      fs.closeSync(fd);
    },
  };
}

/**
 * toes-rev's own credentials, kept in `toes env` beside the app's: deploy tokens (REV_*) and
 * the forge token for commit statuses, which a dependency's install script (network on)
 * could otherwise read and send anywhere.
 */
const OWN_KEYS = /^(?:REV_|TOES_REV_|FORGE_TOKEN$|FORGE_TOKEN_HOST$)/;

/**
 * The environment the app's own processes get (install, predeploy, restart command): this
 * process's, then the app's `toes env`; toes-rev's credentials never pass.
 */
export function appProcessEnv(appEnv: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...appEnv })) {
    if (v !== undefined && !OWN_KEYS.test(k)) env[k] = v;
  }
  return env;
}
