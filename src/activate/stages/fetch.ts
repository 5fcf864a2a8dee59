// fetch: bring the snapshot into the store. A tarball or a directory reveals its version
// only now, so the decision probe could not take is taken here. (A local archive is
// hashed by probe, and a remote one known by its validators: see fetch/archive-id.ts.)
import { RevError } from '../../errors.js';
import { fetchSnapshot, formatSource, hasPackageJson, type FetchContext } from '../../fetch/index.js';
import { enterStore } from '../../releases/store-access.js';
import { ready, settle, type DeployCtx } from '../context.js';
import { decide } from '../decide.js';

export async function fetch(c: DeployCtx): Promise<void> {
  ready(c, 'source', 'probe', 'state');
  c.storeUse = await enterStore(c.layout, `deploy of ${c.app}`, (holder) => c.say(`waiting for ${holder} to finish deleting unused files\n`));
  c.snapshot = await fetchSnapshot(c.source, c.probe, fetchContext(c));
  if (!hasPackageJson(c.snapshot.entries)) {
    throw new RevError('NO_PACKAGE_JSON', `The snapshot of ${formatSource(c.source)} has no package.json at its top level, so it is not a Toes app; nothing was published.`);
  }
  // A remote archive's version may be known from its validators before the fetch; if the
  // bytes fetched hash otherwise (it changed meanwhile), they decide.
  if (!c.decision || c.snapshot.version !== c.probe.version) settle(c, decide(c.state, c.snapshot.version, !!c.req.force));
}

/** What the fetchers need; the download deadline starts with the deploy's first download. */
export function fetchContext(c: DeployCtx): FetchContext {
  c.downloadBy ??= Date.now() + c.settings.limits.downloadSeconds * 1000;
  return {
    storeRoot: c.layout.storeRoot,
    owner: c.app,
    tmpRoot: c.layout.tmpDir(c.app),
    blobs: c.blobs,
    token: c.token,
    limits: c.settings.limits,
    deadline: c.downloadBy,
    onProgress: c.engine.events?.onProgress,
  };
}
