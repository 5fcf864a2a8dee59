// What a source may make a deploy hold, write or wait for. Every fetcher checks these as
// the data arrives (before it is inflated or written), so a hostile or broken source is
// refused early, with memory and disk bounded and the app's lock released.
import { RevError } from '../errors.js';
import { displayName } from './snapshot.js';

export interface SourceLimits {
  /** Bytes of file contents one snapshot may bring (the sum of its files). */
  snapshotBytes: number;
  /** Bytes of one file. */
  fileBytes: number;
  /** Files, links and directories in one snapshot. */
  entries: number;
  /** Directories nested in one path. */
  depth: number;
  /** Bytes of a git server's list of refs. */
  refsBytes: number;
  /** Seconds the whole download may take, however slowly the bytes trickle. */
  downloadSeconds: number;
}

const MiB = 1024 * 1024;

/**
 * Far above what real apps send (a web app's repository is a few MB to a few hundred; git
 * hosts refuse files over 100 MB; a Linux kernel checkout has ~90,000 files and 12 levels),
 * and far below what fills a Pi's memory or card.
 */
export const DEFAULT_LIMITS: SourceLimits = {
  snapshotBytes: 2048 * MiB,
  fileBytes: 512 * MiB,
  entries: 200_000,
  depth: 64,
  refsBytes: 32 * MiB,
  downloadSeconds: 900,
};

/** Which setting raises each limit (`toes config set <app> <key> <value>`). */
export const LIMIT_SETTINGS: Record<keyof SourceLimits, string> = {
  snapshotBytes: 'limit.snapshot',
  fileBytes: 'limit.file',
  entries: 'limit.entries',
  depth: 'limit.depth',
  refsBytes: 'limit.refs',
  downloadSeconds: 'limit.download',
};

export function formatBytes(n: number): string {
  if (n >= 1024 * MiB && n % (1024 * MiB) === 0) return `${n / (1024 * MiB)} GiB`;
  if (n >= MiB) return `${+(n / MiB).toFixed(1)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/**
 * 12,345 without toLocaleString: its first call loads ICU's number formatting, 10-15 ms
 * of Node start-up for every command that merely reads the settings.
 */
export function formatCount(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function describe(key: keyof SourceLimits, value: number): string {
  switch (key) {
    case 'entries':
      return `${formatCount(value)} entries`;
    case 'depth':
      return `${value} nested directories`;
    case 'downloadSeconds':
      return `${value} s`;
    default:
      return formatBytes(value);
  }
}

/** `what` says what went past the limit, e.g. "the file "big.bin" has more than". */
export function limitError(key: keyof SourceLimits, limits: SourceLimits, what: string): RevError {
  const value = limits[key];
  const setting = LIMIT_SETTINGS[key];
  return new RevError(
    'LIMIT_EXCEEDED',
    `${what} ${describe(key, value)} (the ${setting} limit), so nothing was published; if the app really needs more, raise it with \`toes config set <app> ${setting} N\` and deploy again.`,
    { data: { limit: setting, value } },
  );
}

/** The limits with any given values over the defaults. */
export function withDefaults(given: Partial<SourceLimits> | undefined): SourceLimits {
  return { ...DEFAULT_LIMITS, ...Object.fromEntries(Object.entries(given ?? {}).filter(([, v]) => typeof v === 'number' && v > 0)) };
}

/**
 * Counts what a snapshot brings as it arrives: each file against `fileBytes`, the total
 * against `snapshotBytes`, entries and depth against theirs. Throws LIMIT_EXCEEDED.
 */
export class Budget {
  private bytes = 0;
  private count = 0;
  constructor(readonly limits: SourceLimits) {}

  file(name: string, size: number): void {
    if (size > this.limits.fileBytes) throw limitError('fileBytes', this.limits, `The file "${displayName(name)}" is larger than`);
    this.bytes += size;
    if (this.bytes > this.limits.snapshotBytes) throw limitError('snapshotBytes', this.limits, 'The snapshot brings more than');
  }

  /** One more entry at `path` (POSIX, relative). */
  entry(path: string): void {
    if (++this.count > this.limits.entries) throw this.tooMany();
    let dirs = 0;
    for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) dirs++;
    if (dirs > this.limits.depth) throw this.tooDeep();
  }

  tooMany(): RevError {
    return limitError('entries', this.limits, 'The snapshot has more than');
  }

  tooDeep(): RevError {
    return limitError('depth', this.limits, 'The snapshot nests more than');
  }
}
