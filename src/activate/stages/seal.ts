// seal: rename the staging tree to its release directory; from now on it never changes,
// and the record of its files (seal-record.ts) lets a rollback check that it did not.
import fs from 'node:fs/promises';
import { syncFilesystems } from '../../releases/durable.js';
import { appendLog } from '../../releases/log.js';
import { ready, type DeployCtx } from '../context.js';
import { recordSeal } from '../seal-record.js';

export async function seal(c: DeployCtx): Promise<void> {
  ready(c, 'build');
  const { build, layout, app } = c;
  await recordSeal(layout, app, build.record.id, build.staging);
  // Durable before it is named: the release's files, any new blobs and the store's new
  // commits and trees (their log is not synced as it is written) reach the disk.
  await syncFilesystems([build.staging, layout.blobsRoot, layout.storeRoot]);
  await fs.rename(build.staging, layout.releaseDir(app, build.record.id));
  build.sealed = true;
  build.record = { ...build.record, sealed: true };
  c.target = build.record;
  await appendLog(layout.releaseLog(app), [build.record]);
}
