// The deploy and the rollback, as named stages in order: the order is the story. Each
// stage lives in stages/<name>.ts; a stage with `skip` says why it did not run.
import type { DeployCtx, RollbackCtx } from './context.js';
import { noBuildReason } from './decide.js';
import type { Stage } from './run-flow.js';
import { begin } from './stages/begin.js';
import { checkSealed, skipCheckSeal } from './stages/check-seal.js';
import { choose } from './stages/choose.js';
import { fetch } from './stages/fetch.js';
import { install, skipInstall } from './stages/install.js';
import { lacks, skipLacks } from './stages/lacks.js';
import { lock } from './stages/lock.js';
import { materialize } from './stages/materialize.js';
import { predeploy, skipPredeploy } from './stages/predeploy.js';
import { probe } from './stages/probe.js';
import { prune } from './stages/prune.js';
import { recordDeploy, recordRollback } from './stages/record.js';
import { previewState, recoverForDeploy, recoverForRollback } from './stages/recover.js';
import { relink, skipRelink } from './stages/relink.js';
import { resolve } from './stages/resolve.js';
import { seal } from './stages/seal.js';
import { alreadyLive, swap } from './stages/swap.js';
import { verify } from './stages/verify.js';

/** A version that is live already, or has a sealed release, is not fetched or built. */
const nothingToBuild = (c: DeployCtx) => noBuildReason(c.decision);

export const deployFlow: Stage<DeployCtx>[] = [
  { name: 'resolve', run: resolve },
  { name: 'lock', run: lock },
  { name: 'recover', run: recoverForDeploy },
  { name: 'probe', run: probe },
  { name: 'fetch', run: fetch, skip: nothingToBuild },
  { name: 'begin', run: begin, skip: nothingToBuild },
  { name: 'materialize', run: materialize, skip: nothingToBuild },
  { name: 'install', run: install, skip: skipInstall },
  { name: 'predeploy', run: predeploy, skip: skipPredeploy },
  { name: 'relink', run: relink, skip: skipRelink },
  { name: 'lacks', run: lacks, skip: skipLacks },
  { name: 'seal', run: seal, skip: nothingToBuild },
  { name: 'check', run: checkSealed, skip: skipCheckSeal },
  { name: 'swap', run: swap, skip: alreadyLive, activating: true },
  { name: 'verify', run: verify, skip: alreadyLive },
  { name: 'record', run: recordDeploy, skip: alreadyLive },
  { name: 'prune', run: prune, skip: alreadyLive },
];

/** `toes deploy --dry-run`: the deploy's stages up to what the new release lacks; recover only plans. */
const PREVIEWED = new Set(['resolve', 'lock', 'recover', 'probe', 'fetch', 'lacks']);
export const deployPreviewFlow: Stage<DeployCtx>[] = deployFlow
  .filter((s) => PREVIEWED.has(s.name))
  .map((s) => (s.name === 'recover' ? { name: 'preview', run: previewState } : s));

export const rollbackFlow: Stage<RollbackCtx>[] = [
  { name: 'lock', run: lock },
  { name: 'recover', run: recoverForRollback },
  { name: 'choose', run: choose },
  { name: 'check', run: checkSealed, skip: skipCheckSeal },
  { name: 'swap', run: swap, skip: alreadyLive, activating: true },
  { name: 'verify', run: verify, skip: alreadyLive },
  { name: 'record', run: recordRollback, skip: alreadyLive },
];
