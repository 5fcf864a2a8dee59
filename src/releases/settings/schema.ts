// The settings `toes config` knows: each key's kind and help, how a value typed on the command
// line is checked, and how a stored file is read back typed, with the defaults applied. A new
// key is added here alone.
import { RevError } from '../../errors.js';
// Only the limits module: reading settings must not load the fetchers.
import { DEFAULT_LIMITS, formatBytes, formatCount, type SourceLimits } from '../../fetch/limits.js';
import { isBranchOrTagName } from '../../fetch/ref-name.js';
import { printable } from '../../printable.js';
import type { Settings } from './files.js';

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

/** Whether `toes config` knows `key`: its own keys alone (`toString` is no setting). */
export function isConfigKey(key: string): boolean {
  return Object.hasOwn(CONFIG_KEYS, key);
}

const notASetting = (key: string) =>
  new RevError('BAD_CONFIG', `"${printable(key)}" is not a setting; known settings: ${Object.keys(CONFIG_KEYS).join(', ')} (see \`toes config --help\`).`);

/** `key` if it is a setting that may be set there: a global-only one only with -g. */
export function configKey(key: string, global: boolean): string {
  if (!isConfigKey(key)) throw notASetting(key);
  if (CONFIG_KEYS[key].globalOnly && !global) throw new RevError('BAD_CONFIG', `${key} is a global setting; use \`toes config set -g ${key} VALUE\`.`);
  return key;
}

export function parseConfigValue(key: string, raw: string): string | number | boolean {
  if (!isConfigKey(key)) throw notASetting(key);
  const spec = CONFIG_KEYS[key];
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
