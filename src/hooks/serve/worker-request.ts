// What the daemon asks of a worker process (worker.ts), as one JSON argument: the
// operation, and the trigger the release log records. The trigger is decided here, from
// what the queued event is, never read back out of an id.
import type { HookEvent } from './queue.js';

export type WorkerRequest =
  | { op: 'deploy'; app: string; trigger: string }
  | { op: 'rollback'; app: string; to: string; trigger: string };

/** Who asked for a queued deploy: the settings page, or a webhook (by delivery id; ids are not secrets). */
export function triggerOf(event: HookEvent): string {
  return event.format === 'page' ? 'page' : `webhook ${event.id.slice(0, 100)}`;
}

export function readRequest(arg: string | undefined): WorkerRequest {
  const r = JSON.parse(arg ?? '');
  const ok = r && typeof r.app === 'string' && typeof r.trigger === 'string' && (r.op === 'deploy' || (r.op === 'rollback' && typeof r.to === 'string'));
  if (!ok) throw new Error(`not a worker request: ${String(arg).slice(0, 200)}`);
  return r;
}
