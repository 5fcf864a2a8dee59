// record: log the target `live` and the release it replaced, and close the activation
// journal. Deploy and rollback differ only in how they write those two lines.
import { formatSource } from '../../fetch/index.js';
import { appendLog, compactLog, type ReleaseRecord, type ReleaseStatus } from '../../releases/log.js';
import { updateJson } from '../../releases/settings/files.js';
import { endActivation } from '../activation-journal.js';
import { liveBefore, ready, type DeployCtx, type OpCtx, type RollbackCtx } from '../context.js';

async function recordLive(c: OpCtx, live: ReleaseRecord, left: ReleaseStatus): Promise<void> {
  const records: ReleaseRecord[] = [];
  const before = liveBefore(c);
  if (before && before.id !== live.id) records.push({ ...before, status: left });
  records.push(live);
  await appendLog(c.layout.releaseLog(c.app), records);
  await endActivation(c.layout, c.app);
  // The release is live whatever happens here: a log left long is only slower to read.
  await compactLog(c.layout.releaseLog(c.app), c.state?.releases ?? []).catch(() => false);
}

/** The new (or reused) release goes live; the one before becomes `previous`; --from is saved. */
export async function recordDeploy(c: DeployCtx): Promise<void> {
  ready(c, 'target', 'source');
  const { pid: _pid, error: _error, ...rest } = c.target;
  const live: ReleaseRecord = { ...rest, status: 'live', sealed: true, finishedAt: c.engine.now().toISOString() };
  await recordLive(c, live, 'previous');
  c.build?.log.write(`live: ${live.id} (${live.version})\n`);
  if (c.req.from) {
    const source = formatSource(c.source);
    await updateJson(c.layout.appConfig(c.app), (v) => {
      v.source = source;
    });
  }
}

/** Moving back marks the release we left `rolled-back`; moving forward leaves it a plain `previous`. */
export async function recordRollback(c: RollbackCtx): Promise<void> {
  ready(c, 'target', 'state');
  const { releases } = c.state;
  const at = (id: string | undefined) => releases.findIndex((r) => r.id === id);
  const back = at(c.target.id) < at(c.state.liveId);
  await recordLive(c, { ...c.target, status: 'live' }, back ? 'rolled-back' : 'previous');
}
