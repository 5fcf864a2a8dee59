// The runner shared by deploy and rollback: a named list of stages run in order, one
// result shape for success and failure, and a `failed` hook that always runs on error.
import { asRevError, naming, type RevError } from '../errors.js';
import { failpoint } from '../failpoint.js';
import type { OpResult, StageTiming } from './result.js';

export type { OpResult, StageTiming } from './result.js';

export interface Stage<C> {
  name: string;
  run(ctx: C): Promise<void>;
  /**
   * The one way a stage is not run: return why (recorded with the stage as skipped),
   * or undefined to run it. A stage never returns early pretending to have run.
   */
  skip?(ctx: C): string | undefined;
  /** What the stage does, in plain words for the person watching ("checking health"). */
  says?(ctx: C): string;
  /**
   * From this stage on, the flow changes what is live: a process asked to stop must let
   * it finish (health check, flip back) rather than leave an activation half done.
   */
  activating?: true;
}

export interface FlowEvents {
  /** A stage starts; `says` is what it does in plain words. */
  onStage?(name: string, says: string): void;
  /** A stage ended, or was skipped (with its reason). */
  onStageEnd?(timing: StageTiming): void;
  /** Called once, before the first `activating` stage runs. */
  onActivating?(): void;
  /** Output of the work (install, predeploy), for who asked to see it (--verbose). */
  onText?(text: string): void;
  /** The flow waits for another process (the app's lock): said to whoever watches, so a wait never looks like a hang. */
  onWait?(text: string): void;
  /** Download progress inside the fetch stage. */
  onProgress?(p: { phase: string; loaded: number; total?: number }): void;
}

export interface FlowHooks<C> {
  failed(ctx: C, err: RevError, stage: string): Promise<void>;
  finally(ctx: C): Promise<void>;
  result(ctx: C): Omit<OpResult, 'ok' | 'stages' | 'durationMs' | 'failedStage' | 'error'>;
  /** A stage was skipped (to say so in the operation's log). */
  skipped?(ctx: C, stage: string, reason: string): void;
}

/**
 * Kill tests pause at the start of a stage (TOES_REV_FAILPOINT=<stage>), run or skipped;
 * these two pause half way inside instead, where a kill leaves the most to recover.
 */
const PAUSES_INSIDE = new Set(['materialize', 'swap']);

/** Milliseconds on a monotonic clock: Node 20 loads perf_hooks on the first use of `performance` (about 1 ms). */
const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6;

function saying<C>(stage: Stage<C>, ctx: C): string {
  try {
    return stage.says?.(ctx) ?? stage.name;
  } catch {
    return stage.name; // words are for watching: they never fail a flow
  }
}

export async function runFlow<C>(stages: Stage<C>[], ctx: C, hooks: FlowHooks<C>, events: FlowEvents = {}): Promise<OpResult> {
  const started = Date.now();
  const timings: StageTiming[] = [];
  let current = '';
  let activating = false;
  try {
    for (const stage of stages) {
      current = stage.name;
      if (!PAUSES_INSIDE.has(stage.name)) await failpoint(stage.name);
      const reason = stage.skip?.(ctx);
      if (reason !== undefined) {
        const skipped = { name: stage.name, ms: 0, skipped: true, reason };
        timings.push(skipped);
        hooks.skipped?.(ctx, stage.name, reason);
        events.onStageEnd?.(skipped);
        continue;
      }
      if (stage.activating && !activating) {
        activating = true;
        events.onActivating?.();
      }
      events.onStage?.(stage.name, saying(stage, ctx));
      const t0 = monotonicMs();
      await stage.run(ctx);
      const done = { name: stage.name, ms: Math.round(monotonicMs() - t0) };
      timings.push(done);
      events.onStageEnd?.(done);
    }
    return { ok: true, ...hooks.result(ctx), stages: timings, durationMs: Date.now() - started };
  } catch (raw) {
    // The app's real name in every sentence, whichever stage raised it.
    const { op, app } = hooks.result(ctx);
    const err = naming(asRevError(raw, op === 'rollback' ? 'rolling back' : 'deploying', ' with the deploy log'), app);
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
