// The deploy and the rollback, as named stages in order: the order is the story. Each
// stage lives in stages/<name>.ts; a stage with `skip` says why it did not run. What runs
// around them (cleanup on failure, the result) is in flow-hooks.ts.
import type { DeployCtx, OpCtx, RollbackCtx } from './context.js';
import { noBuildReason } from './decide.js';
import type { Stage } from './run-flow.js';
import { supervisorKind } from './supervisor/plan.js';
import { begin } from './stages/begin.js';
import { checkSealed, skipCheckSeal } from './stages/check-seal.js';
import { choose } from './stages/choose.js';
import { fetch } from './stages/fetch.js';
import { install, skipInstall } from './stages/install.js';
import { lacks, skipLacks } from './stages/lacks.js';
import { lock } from './stages/lock.js';
import { materialize } from './stages/materialize.js';
import { predeploy, skipPredeploy } from './stages/predeploy.js';
import { probe, probeRef } from './stages/probe.js';
import { prune } from './stages/prune.js';
import { recordDeploy, recordRollback } from './stages/record.js';
import { previewState, recoverForDeploy, recoverForRollback } from './stages/recover.js';
import { relink, skipRelink } from './stages/relink.js';
import { resolve } from './stages/resolve.js';
import { seal } from './stages/seal.js';
import { settings } from './stages/settings.js';
import { alreadyLive, swap } from './stages/swap.js';
import { verify } from './stages/verify.js';

/** A version that is live already, or has a sealed release, is not fetched or built. */
const nothingToBuild = (c: DeployCtx) => noBuildReason(c.decision);

export const deployFlow: Stage<DeployCtx>[] = [
  { name: 'settings', run: settings, says: () => 'reading the settings' },
  { name: 'resolve', run: resolve, says: () => 'finding the source' },
  { name: 'lock', run: lock, says: () => 'taking the app\'s lock' },
  { name: 'recover', run: recoverForDeploy, says: () => 'checking the releases' },
  { name: 'probe', run: probe, says: probing },
  { name: 'fetch', run: fetch, skip: nothingToBuild, says: (c) => (c.source?.kind === 'dir' ? 'reading the directory' : 'downloading') },
  { name: 'begin', run: begin, skip: nothingToBuild, says: () => 'starting a new release' },
  { name: 'materialize', run: materialize, skip: nothingToBuild, says: (c) => `linking ${files(c)}` },
  { name: 'install', run: install, skip: skipInstall, says: () => 'installing dependencies (bun install)' },
  { name: 'predeploy', run: predeploy, skip: skipPredeploy, says: () => 'running predeploy' },
  { name: 'relink', run: relink, skip: skipRelink, says: (c) => `sharing the files the build left unchanged (${files(c)})` },
  { name: 'lacks', run: lacks, skip: skipLacks, says: () => 'comparing with the adopted release' },
  { name: 'seal', run: seal, skip: nothingToBuild, says: () => 'sealing the release (read-only from now on)' },
  { name: 'check', run: checkSealed, skip: skipCheckSeal, says: () => 'checking the release is as it was sealed' },
  { name: 'swap', run: swap, skip: alreadyLive, activating: true, says: (c) => `making release ${c.target?.id ?? ''} live` },
  { name: 'verify', run: verify, skip: alreadyLive, says: restarting },
  { name: 'record', run: recordDeploy, skip: alreadyLive, says: () => 'recording the release' },
  { name: 'prune', run: prune, skip: alreadyLive, says: () => 'removing old releases' },
];

/** `toes deploy --dry-run`: the deploy's stages up to what the new release lacks; recover only plans. */
const PREVIEWED = new Set(['settings', 'resolve', 'lock', 'recover', 'probe', 'fetch', 'lacks']);
export const deployPreviewFlow: Stage<DeployCtx>[] = deployFlow
  .filter((s) => PREVIEWED.has(s.name))
  .map((s) => (s.name === 'recover' ? { name: 'preview', run: previewState, says: () => 'checking what the deploy would change' } : s));

export const rollbackFlow: Stage<RollbackCtx>[] = [
  { name: 'settings', run: settings, says: () => 'reading the settings' },
  { name: 'lock', run: lock, says: () => 'taking the app\'s lock' },
  { name: 'recover', run: recoverForRollback, says: () => 'checking the releases' },
  { name: 'choose', run: choose, says: () => 'choosing the release to go back to' },
  { name: 'check', run: checkSealed, skip: skipCheckSeal, says: () => 'checking the release is as it was sealed' },
  { name: 'swap', run: swap, skip: alreadyLive, activating: true, says: (c) => `making release ${c.target?.id ?? ''} live` },
  { name: 'verify', run: verify, skip: alreadyLive, says: restarting },
  { name: 'record', run: recordRollback, skip: alreadyLive, says: () => 'recording the release' },
];

function probing(c: DeployCtx): string {
  if (c.source?.kind === 'dir') return 'looking at the directory';
  if (c.source?.kind === 'tarball') return `asking ${where(c)} about the archive`;
  return `asking ${where(c)} for ${probeRef(c) ?? 'its default branch'}`;
}

function where(c: DeployCtx): string {
  const s = c.source;
  if (s?.kind === 'git-remote' || s?.kind === 'tarball') return new URL(s.url).host || 'the server';
  return 'the repository';
}

function files(c: DeployCtx): string {
  const n = c.snapshot?.entries.filter((e) => e.kind !== 'symlink').length ?? 0;
  return `${n.toLocaleString('en-US')} file${n === 1 ? '' : 's'}`;
}

function restarting(c: OpCtx): string {
  const restart = supervisorKind(c.settings, c.layout.roots.toesUrl) === 'none' ? 'not restarting (supervisor none)' : 'restarting';
  return c.settings.healthUrl ? `${restart}, then checking health` : restart;
}
