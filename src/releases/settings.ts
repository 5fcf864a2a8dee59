// Settings (`toes config`) and environment (`toes env`), per app with a global default.
// Both are small JSON files under the rev state directory, written atomically with mode
// 0600 because the environment holds tokens.
import fs from 'node:fs/promises';
import path from 'node:path';
import { RevError } from '../errors.js';
// Only the limits module: reading settings must not load the fetchers.
import { DEFAULT_LIMITS, formatBytes, formatCount, type SourceLimits } from '../fetch/limits.js';
import { isBranchOrTagName } from '../fetch/ref-name.js';
import { writeJsonDurable } from './durable.js';
import { acquireLock } from './lock.js';
import type { Layout } from './paths.js';

type Kind = 'string' | 'ref' | 'bool' | 'int' | 'count' | 'bytes' | 'seconds' | 'enum';
interface KeySpec {
  kind: Kind;
  values?: string[];
  globalOnly?: boolean;
  help: string;
}

export const CONFIG_KEYS: Record<string, KeySpec> = {
  source: { kind: 'string', help: 'where the app comes from: a git URL, a .tar.gz URL or a directory' },
  branch: { kind: 'ref', help: "the branch or tag to deploy; webhooks deploy only pushes to it (default: the live release's branch, else the remote's default)" },
  install: { kind: 'bool', help: 'run `bun install` before predeploy (true)' },
  predeploy: { kind: 'bool', help: 'run scripts.predeploy when package.json has one (true)' },
  keep: { kind: 'int', help: 'good releases kept on disk (5)' },
  'build.timeout': { kind: 'seconds', help: 'seconds install and predeploy may take together (600)' },
  'build.sandbox': { kind: 'enum', values: ['auto', 'on', 'off'], help: 'run install and predeploy in a bubblewrap sandbox: auto (when bwrap works, else with a warning), on (refuse to build without it) or off (auto)' },
  'build.network': { kind: 'bool', help: 'let install and predeploy reach the network inside the sandbox (true)' },
  supervisor: { kind: 'enum', values: ['toes', 'command', 'signal', 'none'], help: 'how the app is restarted after a swap' },
  restart: { kind: 'string', help: 'restart command template, with {app}, {release} and {port}' },
  pidfile: { kind: 'string', help: 'pidfile for the signal supervisor' },
  signal: { kind: 'string', help: 'signal for the signal supervisor (SIGHUP)' },
  'health.url': { kind: 'string', help: "the app's health URL (GET /ok)" },
  'health.timeout': { kind: 'seconds', help: 'seconds to wait for health, and for a restart command (30)' },
  'health.interval': { kind: 'seconds', help: 'seconds between health checks (0.25)' },
  'limit.snapshot': { kind: 'bytes', help: `bytes of files one deploy may bring, e.g. 500M or 4G (${formatBytes(DEFAULT_LIMITS.snapshotBytes)})` },
  'limit.file': { kind: 'bytes', help: `bytes of one file (${formatBytes(DEFAULT_LIMITS.fileBytes)})` },
  'limit.entries': { kind: 'count', help: `files, links and directories in one snapshot (${formatCount(DEFAULT_LIMITS.entries)})` },
  'limit.depth': { kind: 'count', help: `directories nested in one path (${DEFAULT_LIMITS.depth})` },
  'limit.refs': { kind: 'bytes', help: `bytes of a git server's list of branches and tags (${formatBytes(DEFAULT_LIMITS.refsBytes)})` },
  'limit.download': { kind: 'seconds', help: `seconds all of a deploy's downloads may take (${DEFAULT_LIMITS.downloadSeconds})` },
  'status.forge': { kind: 'enum', values: ['github', 'forgejo', 'gitea', 'gitlab', 'none'], help: 'where commit statuses go, when the webhook or the source URL cannot tell (none: no statuses)' },
  'status.api': { kind: 'string', help: "the forge's API base for commit statuses, e.g. https://git.example.com/api/v1" },
  relay: { kind: 'string', globalOnly: true, help: "the relay's base URL" },
  'webhook.url': { kind: 'string', globalOnly: true, help: 'the base URL webhooks reach `toes serve` at, printed by `toes webhook enable` (default: where it listens)' },
};

export const DEFAULTS = { install: true, predeploy: true, keep: 5, buildTimeout: 600, healthTimeout: 30, healthInterval: 0.25, signal: 'SIGHUP' } as const;

/** A settings file as stored: what `toes config` wrote, not yet checked or defaulted. */
export type Settings = Record<string, string | number | boolean>;

export type SupervisorKind = 'toes' | 'command' | 'signal' | 'none';

/**
 * An app's settings with the global defaults and toes-rev's own defaults applied, typed.
 * Every reader of a setting goes through `resolveSettings`, so a default lives in one place
 * and a hand-edited file with a wrong type falls back to it instead of leaking through.
 */
export interface AppSettings {
  source?: string;
  branch?: string;
  install: boolean;
  predeploy: boolean;
  keep: number;
  /** Seconds install and predeploy may take together. */
  buildTimeout: number;
  buildSandbox: 'auto' | 'on' | 'off';
  buildNetwork: boolean;
  /** Unset: `toes` when TOES_URL is known, else `none` (decided by the supervisor plan). */
  supervisor?: SupervisorKind;
  restart?: string;
  pidfile?: string;
  signal: string;
  healthUrl?: string;
  healthTimeout: number;
  healthInterval: number;
  /** What a source may send, with the defaults applied. */
  limits: SourceLimits;
  /** Global only. */
  relay?: string;
  webhookUrl?: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
const bool = (v: unknown, dflt: boolean): boolean => (typeof v === 'boolean' ? v : dflt);
const positive = (v: unknown, dflt: number): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : dflt);

export function resolveSettings(raw: Settings): AppSettings {
  const sup = raw.supervisor;
  return {
    source: str(raw.source),
    branch: str(raw.branch),
    install: bool(raw.install, DEFAULTS.install),
    predeploy: bool(raw.predeploy, DEFAULTS.predeploy),
    keep: Number.isInteger(raw.keep) ? positive(raw.keep, DEFAULTS.keep) : DEFAULTS.keep,
    buildTimeout: positive(raw['build.timeout'], DEFAULTS.buildTimeout),
    buildSandbox: raw['build.sandbox'] === 'on' || raw['build.sandbox'] === 'off' ? raw['build.sandbox'] : 'auto',
    buildNetwork: bool(raw['build.network'], true),
    supervisor: sup === 'toes' || sup === 'command' || sup === 'signal' || sup === 'none' ? sup : undefined,
    restart: str(raw.restart),
    pidfile: str(raw.pidfile),
    signal: str(raw.signal) ?? DEFAULTS.signal,
    healthUrl: str(raw['health.url']),
    healthTimeout: positive(raw['health.timeout'], DEFAULTS.healthTimeout),
    healthInterval: positive(raw['health.interval'], DEFAULTS.healthInterval),
    limits: {
      snapshotBytes: positive(raw['limit.snapshot'], DEFAULT_LIMITS.snapshotBytes),
      fileBytes: positive(raw['limit.file'], DEFAULT_LIMITS.fileBytes),
      entries: positive(raw['limit.entries'], DEFAULT_LIMITS.entries),
      depth: positive(raw['limit.depth'], DEFAULT_LIMITS.depth),
      refsBytes: positive(raw['limit.refs'], DEFAULT_LIMITS.refsBytes),
      downloadSeconds: positive(raw['limit.download'], DEFAULT_LIMITS.downloadSeconds),
    },
    relay: str(raw.relay),
    webhookUrl: str(raw['webhook.url']),
  };
}

export function parseConfigValue(key: string, raw: string): string | number | boolean {
  const spec = CONFIG_KEYS[key];
  if (!spec) throw new RevError('BAD_CONFIG', `"${key}" is not a setting; known settings: ${Object.keys(CONFIG_KEYS).join(', ')}.`);
  const bad = (what: string) => new RevError('BAD_CONFIG', `"${raw}" is not a valid value for ${key}: ${what}.`);
  switch (spec.kind) {
    case 'bool':
      if (/^(true|yes|on|1)$/i.test(raw)) return true;
      if (/^(false|no|off|0)$/i.test(raw)) return false;
      throw bad('use true or false');
    case 'int': {
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 1 || n > 1000) throw bad('use a whole number from 1 to 1000');
      return n;
    }
    case 'count': {
      const n = Number(raw.replace(/[_,]/g, ''));
      if (!Number.isInteger(n) || n < 1 || n > 100_000_000) throw bad('use a whole number above 0');
      return n;
    }
    case 'bytes': {
      const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(raw.trim());
      const n = m ? Math.floor(Number(m[1]) * 1024 ** ' KMGT'.indexOf(m[2].toUpperCase() || ' ')) : NaN;
      if (!Number.isFinite(n) || n < 1) throw bad('use a size such as 500M, 2G or 1048576');
      return n;
    }
    case 'seconds': {
      const n = Number(raw);
      if (!Number.isFinite(n) || n <= 0 || n > 86_400) throw bad('use a number of seconds above 0');
      return n;
    }
    case 'ref':
      if (!isBranchOrTagName(raw)) throw bad('git does not allow it as a branch or tag name (no spaces, control characters, "..", ~, ^, :, ?, *, [ or \\); use the name as `git branch` or `git tag` shows it');
      return raw;
    case 'enum':
      if (!spec.values!.includes(raw)) throw bad(`use one of ${spec.values!.join(', ')}`);
      return raw;
    default:
      if (raw.length === 0 || /[\0\n\r]/.test(raw)) throw bad('it must be one line of text');
      return raw;
  }
}

export async function readJson(file: string): Promise<Settings> {
  try {
    const v = JSON.parse(await fs.readFile(file, 'utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return {};
    if (code) throw new RevError('BAD_CONFIG', `Could not read ${file} (${code}); check DATA_DIR and its permissions.`, { cause: err });
    throw new RevError('BAD_CONFIG', `${file} is not valid JSON; fix or remove it.`, { cause: err });
  }
}

/** Settings and environment files may hold tokens: mode 0600, written whole. */
export async function writeJson(file: string, value: Settings): Promise<void> {
  await writeJsonDurable(file, value, { mode: 0o600 });
}

export type Scope = { global: true } | { global: false; app: string };

export function configFile(layout: Layout, scope: Scope): string {
  return scope.global ? layout.globalConfig : layout.appConfig(scope.app);
}
export function envFile(layout: Layout, scope: Scope): string {
  return scope.global ? layout.globalEnv : layout.appEnv(scope.app);
}

/**
 * Waits for all: small reads at once cost one round trip instead of one each. When some
 * fail, the first failure in the order given is thrown, as if they had run in turn.
 */
async function allInOrder<T>(work: Promise<T>[]): Promise<T[]> {
  return (await Promise.allSettled(work)).map((r) => {
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  });
}

/** JSON files merged, later over earlier. */
async function readMerged(files: string[]): Promise<Settings> {
  return (await allInOrder(files.map(readJson))).reduce((merged, v) => ({ ...merged, ...v }), {});
}

/** Per-app values over global ones, as stored (for `toes config`, which shows what was set). */
export async function effectiveConfig(layout: Layout, app: string): Promise<Settings> {
  return readMerged([layout.globalConfig, layout.appConfig(app)]);
}

/** The app's settings as the engine uses them: per app over global over defaults. */
export async function appSettings(layout: Layout, app: string): Promise<AppSettings> {
  return resolveSettings(await effectiveConfig(layout, app));
}

/** The global settings with defaults applied (relay, webhook.url). */
export async function globalSettings(layout: Layout): Promise<AppSettings> {
  return resolveSettings(await readJson(layout.globalConfig));
}
export async function effectiveEnv(layout: Layout, app: string): Promise<Record<string, string>> {
  const merged = await readMerged([layout.globalEnv, layout.appEnv(app)]);
  return Object.fromEntries(Object.entries(merged).map(([k, v]) => [k, String(v)]));
}

/** What a deploy or a rollback starts from: the app's settings and its environment. */
export async function settingsAndEnv(layout: Layout, app: string): Promise<{ settings: AppSettings; env: Record<string, string> }> {
  const [settings, env] = await allInOrder<unknown>([appSettings(layout, app), effectiveEnv(layout, app)]);
  return { settings: settings as AppSettings, env: env as Record<string, string> };
}

/** Read, change and write under a lock, so concurrent `toes env set`s never lose a key. */
export async function updateJson(file: string, change: (v: Settings) => void): Promise<Settings> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const lock = await acquireLock(`${file}.lock`, { command: 'settings', waitMs: 15_000 });
  try {
    const v = await readJson(file);
    change(v);
    await writeJson(file, v);
    return v;
  } finally {
    await lock.release();
  }
}

export function checkEnvKey(key: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new RevError('USAGE', `"${key}" is not a valid environment variable name.`);
  return key;
}

/** Keys whose values are shown masked: tokens, secrets, passwords, keys. */
export function isSecretKey(key: string): boolean {
  return /TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL/i.test(key);
}

export function mask(value: string): string {
  return value.length <= 8 ? '••••' : `${value.slice(0, 3)}…${value.slice(-4)}`;
}

/** Where a global REV_TOKEN goes when no REV_TOKEN_HOST says otherwise. */
export const DEFAULT_TOKEN_HOST = 'rev.host';

/** How the deploy came by its source: a token is never sent to one read from the app's own files. */
export type SourceOrigin = 'flag' | 'saved' | 'package';

function hostList(v: unknown): string[] {
  return typeof v === 'string' ? v.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean) : [];
}

/**
 * Whether a REV_TOKEN_HOST entry names the host of `u`: `NAME` is that host on any port
 * (`localhost` takes in `http://localhost:3000`), `NAME:PORT` that port alone, the
 * scheme's default when the URL names none.
 */
export function tokenHostMatches(entry: string, u: URL): boolean {
  const e = entry.trim().toLowerCase();
  const hostname = u.hostname.toLowerCase();
  // A port follows the name (or a bracketed IPv6 address); a bare IPv6 address has no port.
  const m = /^(\[[^\]]*\]|[^:]*):(\d+)$/.exec(e);
  if (!m) return e === hostname;
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  return m[1] === hostname && Number(m[2]) === Number(port);
}

/**
 * The REV_TOKEN a fetch from `url` may carry, so that a token reaches only the host it was
 * meant for: the app's own token goes to the hosts in the app's REV_TOKEN_HOST, else to the
 * source the user named (`--from` or the `source` setting); the global token goes to the
 * hosts in the global REV_TOKEN_HOST, else to rev.host alone. Never to a source read from
 * a release's package.json without a host naming it.
 */
export async function sourceToken(layout: Layout, app: string, url: string, origin: SourceOrigin): Promise<string | undefined> {
  let u: URL;
  try {
    u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
  } catch {
    return undefined;
  }
  const forUrl = (hosts: string[]) => hosts.some((h) => tokenHostMatches(h, u));
  const [own, global] = await Promise.all([readJson(layout.appEnv(app)), readJson(layout.globalEnv)]);
  const token = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  if (token(own.REV_TOKEN)) {
    const hosts = hostList(own.REV_TOKEN_HOST);
    if (hosts.length ? forUrl(hosts) : origin !== 'package') return token(own.REV_TOKEN);
  }
  if (token(global.REV_TOKEN)) {
    const hosts = hostList(global.REV_TOKEN_HOST);
    if (forUrl(hosts.length ? hosts : [DEFAULT_TOKEN_HOST])) return token(global.REV_TOKEN);
  }
  return undefined;
}
