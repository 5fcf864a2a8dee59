// The runner shared by deploy and rollback: a named list of stages run in order, one
// result shape for success and failure, and a `failed` hook that always runs on error.
import { RevError, translateSystemError } from '../errors.js';

export interface Stage<C> {
  name: string;
  run(ctx: C): Promise<void>;
  /** Skip the stage (recorded as skipped) when this returns true. */
  skip?(ctx: C): boolean;
}

export interface StageTiming {
  name: string;
  ms: number;
  skipped?: boolean;
}

export interface OpResult {
  ok: boolean;
  op: 'deploy' | 'rollback';
  app: string;
  /** The release directory name (Toes timestamp) that was built or made live. */
  release?: string;
  version?: string;
  commit?: string;
  status: string;
  /** The sealed release was reused: no fetch, no build. */
  reused?: boolean;
  /** Nothing changed: that version was already live. */
  unchanged?: boolean;
  previous?: string;
  bytesFetched?: number;
  pruned?: string[];
  /** Things worth telling that are not errors (an interrupted activation finished, say). */
  notes?: string[];
  stages: StageTiming[];
  failedStage?: string;
  error?: { code: string; message: string; logTail?: string };
  durationMs: number;
  log?: string;
}

export interface FlowEvents {
  onStage?(name: string): void;
  onText?(text: string): void;
  /** Download progress inside the fetch stage. */
  onProgress?(p: { phase: string; loaded: number; total?: number }): void;
}

export interface FlowHooks<C> {
  failed(ctx: C, err: RevError, stage: string): Promise<void>;
  finally(ctx: C): Promise<void>;
  result(ctx: C): Omit<OpResult, 'ok' | 'stages' | 'durationMs' | 'failedStage' | 'error'>;
}

export function asRevError(err: unknown): RevError {
  const e = translateSystemError(err, 'deploying');
  if (e instanceof RevError) return e;
  return new RevError('INTERNAL', `Unexpected error: ${(e as Error)?.message ?? String(e)}; this is a bug in toes-rev, please report it with the deploy log.`, {
    cause: e,
  });
}

export async function runFlow<C>(stages: Stage<C>[], ctx: C, hooks: FlowHooks<C>, events: FlowEvents = {}): Promise<OpResult> {
  const started = Date.now();
  const timings: StageTiming[] = [];
  let current = '';
  try {
    for (const stage of stages) {
      current = stage.name;
      if (stage.skip?.(ctx)) {
        timings.push({ name: stage.name, ms: 0, skipped: true });
        continue;
      }
      events.onStage?.(stage.name);
      const t0 = performance.now();
      await stage.run(ctx);
      timings.push({ name: stage.name, ms: Math.round(performance.now() - t0) });
    }
    return { ok: true, ...hooks.result(ctx), stages: timings, durationMs: Date.now() - started };
  } catch (raw) {
    const err = asRevError(raw);
    try {
      await hooks.failed(ctx, err, current);
    } catch {
      // the original error is what the user needs to see
    }
    const logTail = typeof err.data.logTail === 'string' ? err.data.logTail : undefined;
    return {
      ok: false,
      ...hooks.result(ctx),
      status: 'failed',
      stages: timings,
      failedStage: current,
      error: { code: err.code, message: err.message, ...(logTail ? { logTail } : {}) },
      durationMs: Date.now() - started,
    };
  } finally {
    await hooks.finally(ctx).catch(() => {});
  }
}
