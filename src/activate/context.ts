// What a deploy or a rollback carries from stage to stage. Fields are grouped by the
// stage that fills them; a stage states the groups it needs with `ready()`, which makes
// the compiler treat them as set and fails loudly if a flow is ever put out of order.
import { RevError } from '../errors.js';
import type { BlobStore, Probe, Snapshot, Source } from '../fetch/index.js';
import type { Lock } from '../releases/lock.js';
import type { ReleaseRecord } from '../releases/log.js';
import type { CopyMarks } from '../releases/materialize.js';
import type { Layout } from '../releases/paths.js';
import type { AppState } from '../releases/reconcile.js';
import type { AppSettings } from '../releases/settings/schema.js';
import type { StoreUse } from '../releases/store-access.js';
import type { ActivationEnv } from './activation.js';
import type { StepLog } from './build.js';
import type { Decision } from './decide.js';
import type { FlowEvents } from './run-flow.js';

export interface Engine {
  layout: Layout;
  now(): Date;
  events?: FlowEvents;
}

export interface DeployRequest {
  app: string;
  /** A --from value: saved as the app's source once the deploy succeeds. */
  from?: string;
  ref?: string;
  install?: boolean;
  predeploy?: boolean;
  /** Build again even when a sealed release of this version exists. */
  force?: boolean;
  /** Only say what the deploy would do and warn about (deployPreviewFlow). */
  dryRun?: boolean;
  trigger?: string;
  /** How long to wait for the app's lock, in ms. */
  waitMs?: number;
  cwd?: string;
}

export interface RollbackRequest {
  app: string;
  /** A release id, a version (commit) or a unique prefix of either. */
  to?: string;
  trigger?: string;
  waitMs?: number;
}

/** What both flows carry; the stages they share (lock, swap, verify) need no more. */
export interface OpCtx extends ActivationEnv {
  engine: Engine;
  op: 'deploy' | 'rollback';
  trigger: string;
  /** How long to wait for the app's lock, in ms. */
  waitMs: number;
  /** The app's `toes env` as stored, REV_TOKEN included: for the fetch only. */
  env: Record<string, string>;
  notes: string[];
  /** Things the user must act on though the operation succeeded (printed before its last line). */
  warnings: string[];
  /** Set by verify: whether a supervisor was asked to restart the app (not with `none`). */
  restarted?: boolean;
  /** Set by lock. */
  lock?: Lock;
  /** Set by recover: the log in line with the disk; its `liveId` is what was live before. */
  state?: AppState;
  /** The release to make live: set by choose (rollback), by the decision or by seal (deploy). */
  target?: ReleaseRecord;
  /** Set by swap: what `current` named before it (its link text), to flip back to. */
  activation?: { previousLink?: string };
}

export type DeployLog = StepLog & { close(): void };

export interface DeployCtx extends OpCtx {
  op: 'deploy';
  req: DeployRequest;
  /** One store object per deploy: its listing of present contents is read once and kept current. */
  blobs: BlobStore;
  /** When install and predeploy must be done by (ms since epoch). */
  deadline: number;
  /** Set by resolve, with the REV_TOKEN that may go to it (only to the host it is for). */
  source?: Source;
  token?: string;
  /** When every download of this deploy must be over (ms since epoch): set by the first one. */
  downloadBy?: number;
  /** Set by probe. */
  probe?: Probe;
  /** What to do with the version: set by probe when the source names it, else by fetch. */
  decision?: Decision;
  /** Set by fetch. */
  snapshot?: Snapshot;
  /** From the fetch's first look at the blob store to materialize's last link: the
   * collector deletes no blob meanwhile (store-access.ts). */
  storeUse?: StoreUse;
  /** Set by begin: the release being built, its deploy log and its staging directory. */
  build?: { record: ReleaseRecord; log: DeployLog; staging: string; sealed: boolean };
  /** Set by materialize: whether the tree holds private copies, and what to relink after the build. */
  tree?: { copies: boolean; marks: CopyMarks };
  /** Set by prune. */
  pruned?: string[];
  /** Removal of releases pruned by earlier deploys, running alongside this one. */
  trash?: Promise<void>;
}

export interface RollbackCtx extends OpCtx {
  op: 'rollback';
  req: RollbackRequest;
}

type Filled<C, K extends keyof C> = C & { [P in K]-?: NonNullable<C[P]> };

/** Asserts that the stages filling `keys` have run. */
export function ready<C extends object, K extends keyof C>(c: C, ...keys: K[]): asserts c is Filled<C, K> {
  const missing = keys.filter((k) => c[k] === undefined || c[k] === null);
  if (missing.length) {
    throw new RevError('INTERNAL', `A stage ran before ${missing.join(', ')} was known; this is a bug in toes-rev, please report it with the deploy log.`);
  }
}

/**
 * Stands for what the settings stage reads (settings, env) until it has run: any use
 * before then is a flow put out of order, and fails loudly as `ready()` does.
 */
export function beforeSettings<T extends object>(what: string): T {
  const early = (): never => {
    throw new RevError('INTERNAL', `A stage used ${what} before the settings stage ran; this is a bug in toes-rev, please report it with the deploy log.`);
  };
  return new Proxy({} as T, { get: early, set: early, has: early, ownKeys: early });
}

/** The release live before this operation, as its record. */
export function liveBefore(c: OpCtx): ReleaseRecord | undefined {
  return c.state?.releases.find((r) => r.id === c.state?.liveId);
}

/** Records the decision; a release to reuse (or already live) is the target from now on. */
export function settle(c: DeployCtx, d: Decision): void {
  c.decision = d;
  if (d.kind !== 'build') c.target = d.release;
}
