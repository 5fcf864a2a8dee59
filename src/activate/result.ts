// What a deploy or a rollback returns, success or failure alike: the one shape the CLI's
// --json, the daemon's worker and scheduler, the deliveries log and the page all report.
import type { ErrorCode } from '../errors.js';

export interface StageTiming {
  name: string;
  ms: number;
  skipped?: boolean;
  /** Why a skipped stage did not run. */
  reason?: string;
}

export type OpStatus = 'live' | 'unchanged' | 'failed';

export interface OpResult {
  ok: boolean;
  op: 'deploy' | 'rollback';
  app: string;
  /** The release directory name (Toes timestamp) that was built or made live. */
  release?: string;
  version?: string;
  commit?: string;
  status: OpStatus;
  /** The sealed release was reused: no fetch, no build. */
  reused?: boolean;
  /** `toes deploy --dry-run`: nothing was made; `reused`/`unchanged` say what a deploy would do. */
  dryRun?: boolean;
  /** Nothing changed: that version was already live. */
  unchanged?: boolean;
  previous?: string;
  bytesFetched?: number;
  pruned?: string[];
  /** Things worth telling that are not errors (an interrupted activation finished, say). */
  notes?: string[];
  /** Things the user must act on though the operation succeeded (files an adopted release had). */
  warnings?: string[];
  /** False when no supervisor restarted the app (`supervisor none`): the old process may still run. */
  restarted?: boolean;
  stages: StageTiming[];
  failedStage?: string;
  error?: { code: ErrorCode; message: string; logTail?: string };
  durationMs: number;
  log?: string;
}

/**
 * The result of an operation that never got to report one itself: its process could not
 * start, died, or was stopped (`INTERRUPTED`).
 */
export function lostResult(op: OpResult['op'], app: string, code: ErrorCode, message: string, durationMs = 0): OpResult {
  return { ok: false, op, app, status: 'failed', stages: [], error: { code, message }, durationMs };
}
