// `toes deploy`: the deploy flow as a list of named stages. Each stage is small and
// lives below; the order here is the whole story of a deploy.
import fs from 'node:fs/promises';
import path from 'node:path';
import { RevError } from '../errors.js';
import { failpoint } from '../failpoint.js';
import { BlobStore, fetchSnapshot, formatSource, hasPackageJson, parseSource, probeSource, type Probe, type Snapshot, type Source } from '../fetch/index.js';
import { appendLog, type ReleaseRecord } from '../releases/log.js';
import { acquireLock, type Lock } from '../releases/lock.js';
import { materialize, relink, type CopyMarks } from '../releases/materialize.js';
import { newReleaseId } from '../releases/naming.js';
import { readCurrent, swapCurrent } from '../releases/current.js';
import { isGood, reconcile, releasePath, type AppState } from '../releases/reconcile.js';
import { emptyTrash, prune } from '../releases/retention.js';
import { syncFilesystems } from '../releases/durable.js';
import { DEFAULTS, effectiveConfig, effectiveEnv, updateJson, type Settings } from '../releases/settings.js';
import type { Layout } from '../releases/paths.js';
import { beginActivation, endActivation, recoverApp, revert, unhealthy, verify, type ActivationEnv } from './activation.js';
import { appProcessEnv, bunCommand, fileLog, hasLockfile, installArgs, readPackageJson, runStep, type StepLog } from './build.js';
import { runFlow, type FlowEvents, type OpResult, type Stage } from './flow.js';

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
  trigger?: string;
  /** How long to wait for the app's lock, in ms. */
  waitMs?: number;
  cwd?: string;
}

interface DeployCtx {
  engine: Engine;
  req: DeployRequest;
  settings: Settings;
  env: Record<string, string>;
  /** One store object per deploy: its listing of present contents is read once and kept current. */
  blobs: BlobStore;
  source?: Source;
  lock?: Lock;
  state?: AppState;
  probe?: Probe;
  reuse?: ReleaseRecord;
  unchanged?: boolean;
  id?: string;
  record?: ReleaseRecord;
  snapshot?: Snapshot;
  staging?: string;
  /** The staging tree holds private copies (scripts run in it), relinked after the build. */
  copies?: boolean;
  marks?: CopyMarks;
  log?: StepLog & { close(): void };
  deadline: number;
  sealed?: boolean;
  swapped?: boolean;
  /** The new release failed its check and `current` was flipped back. */
  reverted?: boolean;
  previousId?: string;
  pruned?: string[];
  /** Removal of releases pruned by earlier deploys, running alongside this one. */
  trash?: Promise<void>;
  /** What `current` named before the swap (its link text), to flip back to. */
  previousLink?: string;
  notes: string[];
}

function activationEnv(c: DeployCtx): ActivationEnv {
  return {
    layout: layoutOf(c),
    app: c.req.app,
    settings: c.settings,
    env: buildEnv(c),
    now: c.engine.now,
    say: (text) => {
      if (c.log) c.log.write(text);
      else c.engine.events?.onText?.(text);
    },
  };
}

const layoutOf = (c: DeployCtx) => c.engine.layout;
const building = (c: DeployCtx) => !!c.reuse || !!c.unchanged;

/** The app's source: --from, else the saved one, else the live release's package.json. */
async function resolveSource(c: DeployCtx): Promise<void> {
  const { app } = c.req;
  if (c.req.from) {
    c.source = parseSource(c.req.from, c.req.cwd);
    return;
  }
  if (typeof c.settings.source === 'string') {
    c.source = parseSource(c.settings.source);
    return;
  }
  const cur = await readCurrent(layoutOf(c).currentLink(app));
  const dir = cur.kind === 'link' ? cur.abs : cur.kind === 'dir' ? layoutOf(c).currentLink(app) : undefined;
  if (dir) {
    try {
      const pkg = JSON.parse(await fs.readFile(path.join(dir, 'package.json'), 'utf8'));
      const repo = pkg?.toes?.source ?? (typeof pkg?.repository === 'string' ? pkg.repository : pkg?.repository?.url);
      if (typeof repo === 'string' && repo) {
        c.source = parseSource(repo.replace(/^git\+/, ''));
        return;
      }
    } catch {}
  }
  throw new RevError('NO_SOURCE', `No source is known for ${app}; deploy it once with \`toes deploy ${app} --from <git URL | .tar.gz URL | directory>\` (it is saved for next time).`, {
    data: { app },
  });
}

async function lock(c: DeployCtx): Promise<void> {
  c.lock = await acquireLock(layoutOf(c).lockDir(c.req.app), {
    command: `deploy (${c.req.trigger ?? 'cli'})`,
    waitMs: c.req.waitMs ?? 600_000,
    onWait: (holder) => c.engine.events?.onText?.(`waiting for the lock held by ${holder}\n`),
  });
}

async function recover(c: DeployCtx): Promise<void> {
  await fs.mkdir(layoutOf(c).appDir(c.req.app), { recursive: true });
  const { state, note } = await recoverApp(activationEnv(c));
  c.state = state;
  if (note) c.notes.push(note);
  c.previousId = c.state.liveId;
  c.trash = emptyTrash(layoutOf(c), c.req.app).catch(() => {});
}

async function probe(c: DeployCtx): Promise<void> {
  c.probe = await probeSource(c.source!, c.req.ref ?? (typeof c.settings.branch === 'string' ? c.settings.branch : undefined), fetchContext(c));
  const v = c.probe.version;
  if (!v || c.req.force) return;
  const live = c.state!.releases.find((r) => r.id === c.state!.liveId);
  if (live?.version === v) {
    c.unchanged = true;
    return;
  }
  refuseBad(c, v);
  c.reuse = [...c.state!.releases].reverse().find((r) => r.version === v && isGood(r));
}

/** A version that failed its health check is not deployed again without --force. */
function refuseBad(c: DeployCtx, version: string): void {
  const bad = [...c.state!.releases].reverse().find((r) => r.version === version && r.status === 'bad');
  if (!bad || c.req.force) return;
  throw new RevError('BAD_RELEASE', `Version ${version.slice(0, 10)} was marked bad (release ${bad.id}: ${bad.error?.message ?? 'unhealthy'}); deploy a fix, or pass --force to try it again.`, {
    data: { release: bad.id },
  });
}

function fetchContext(c: DeployCtx) {
  const layout = layoutOf(c);
  return {
    storeRoot: layout.storeRoot,
    owner: c.req.app,
    tmpRoot: layout.tmpDir(c.req.app),
    blobs: c.blobs,
    token: c.env.REV_TOKEN || undefined,
    onProgress: c.engine.events?.onProgress,
  };
}

async function begin(c: DeployCtx): Promise<void> {
  await failpoint('fetched');
  const layout = layoutOf(c);
  const { app } = c.req;
  c.id = newReleaseId(layout.appDir(app), new Set(c.state!.releases.map((r) => r.id)), c.engine.now());
  c.record = {
    id: c.id,
    version: c.snapshot!.version,
    kind: c.source!.kind === 'git-remote' || c.source!.kind === 'git-local' ? 'git' : c.source!.kind,
    status: 'building',
    source: formatSource(c.source!),
    ref: c.probe?.target?.ref || undefined,
    commit: c.probe?.target?.commit,
    createdAt: c.engine.now().toISOString(),
    trigger: c.req.trigger ?? 'cli',
    pid: process.pid,
  };
  await appendLog(layout.releaseLog(app), [c.record]);
  c.log = fileLog(layout.deployLog(app, c.id), c.engine.events?.onText);
  c.log.write(`deploy ${app} ${c.id} from ${c.record.source}${c.record.ref ? ` (${c.record.ref})` : ''}\n`);
  const s = c.snapshot!;
  c.log.write(`fetched ${s.version} (${s.entries.length} files, ${s.bytesFetched} bytes downloaded)\n`);
}

async function fetchStage(c: DeployCtx): Promise<void> {
  await failpoint('fetch');
  c.snapshot = await fetchSnapshot(c.source!, c.probe!, fetchContext(c));
  if (!hasPackageJson(c.snapshot.entries)) {
    throw new RevError('NO_PACKAGE_JSON', `The snapshot of ${formatSource(c.source!)} has no package.json at its top level, so it is not a Toes app; nothing was published.`);
  }
  if (c.probe!.version === undefined && !c.req.force) {
    // A tarball or directory only reveals its version once fetched: reuse still applies.
    const v = c.snapshot.version;
    const live = c.state!.releases.find((r) => r.id === c.state!.liveId);
    if (live?.version === v) c.unchanged = true;
    else {
      refuseBad(c, v);
      c.reuse = [...c.state!.releases].reverse().find((r) => r.version === v && isGood(r));
    }
  }
}

async function materializeStage(c: DeployCtx): Promise<void> {
  c.staging = layoutOf(c).stagingDir(c.req.app, c.id!);
  // A script may rewrite tracked files in place: give it private copies, never the store's inodes.
  c.copies = await runsScripts(c);
  c.marks = await materialize(c.snapshot!.entries, c.blobs, c.staging, c.copies ? 'copy' : 'link', c.snapshot!.pending);
  await c.snapshot!.settle?.();
}

const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'preprepare', 'prepare', 'postprepare'];

/**
 * Whether any of the app's own scripts will run in the staging tree: predeploy, or the
 * lifecycle scripts `bun install` runs for the root package. `bun install` itself only
 * writes node_modules and a new lockfile, never a tracked file.
 */
async function runsScripts(c: DeployCtx): Promise<boolean> {
  const entry = c.snapshot!.entries.find((e) => e.path === 'package.json');
  let scripts: Record<string, unknown> = {};
  try {
    const name = c.blobs.nameOf(entry!.oid, entry!.kind === 'exec');
    const text = c.snapshot!.pending?.get(name) ?? (await fs.readFile(c.blobs.pathOf(entry!.oid, entry!.kind === 'exec')));
    const pkg = JSON.parse(text.toString('utf8'));
    scripts = pkg?.scripts && typeof pkg.scripts === 'object' ? pkg.scripts : {};
  } catch {
    return true; // unreadable: assume the worst; the build will report the real problem
  }
  if (wants(c, 'predeploy') && scripts.predeploy) return true;
  return wants(c, 'install') && INSTALL_SCRIPTS.some((s) => scripts[s]);
}

async function relinkStage(c: DeployCtx): Promise<void> {
  const n = await relink(c.snapshot!.entries, c.blobs, c.staging!, c.marks!);
  c.log!.write(`shared ${n} of ${c.snapshot!.entries.length} files with the store\n`);
}

function buildEnv(c: DeployCtx): Record<string, string> {
  const env = appProcessEnv(c.env);
  env.TOES_APP = c.req.app;
  env.TOES_RELEASE = c.id!;
  return env;
}

function wants(c: DeployCtx, key: 'install' | 'predeploy'): boolean {
  if (c.req[key] !== undefined) return c.req[key]!;
  return c.settings[key] === undefined ? DEFAULTS[key] : c.settings[key] === true;
}

async function install(c: DeployCtx): Promise<void> {
  await failpoint('install');
  const pkg = readPackageJson(c.staging!);
  const deps = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'].some((k) => Object.keys((pkg[k] as object) ?? {}).length > 0);
  if (!deps && !hasLockfile(c.staging!) && !INSTALL_SCRIPTS.some((s) => pkg.scripts?.[s])) {
    c.log!.write('no dependencies: bun install skipped\n');
    return;
  }
  await runStep(bunCommand(), installArgs(c.staging!), { cwd: c.staging!, env: buildEnv(c), log: c.log!, deadline: c.deadline, label: 'bun install', pgidFile: layoutOf(c).buildPgid(c.req.app) });
}

async function predeploy(c: DeployCtx): Promise<void> {
  const pkg = readPackageJson(c.staging!);
  if (!pkg.scripts?.predeploy) {
    c.log!.write('no scripts.predeploy: skipped\n');
    return;
  }
  await failpoint('predeploy');
  await runStep(bunCommand(), ['run', 'predeploy'], { cwd: c.staging!, env: buildEnv(c), log: c.log!, deadline: c.deadline, label: 'predeploy', pgidFile: layoutOf(c).buildPgid(c.req.app) });
}

async function seal(c: DeployCtx): Promise<void> {
  // Durable before it is named: the release's files and any new blobs reach the disk.
  await syncFilesystems([c.staging!, layoutOf(c).blobsRoot]);
  await fs.rename(c.staging!, layoutOf(c).releaseDir(c.req.app, c.id!));
  c.sealed = true;
  c.record = { ...c.record!, sealed: true };
  await appendLog(layoutOf(c).releaseLog(c.req.app), [c.record]);
}

async function swap(c: DeployCtx): Promise<void> {
  await c.lock!.verify();
  const target = c.reuse ?? c.record!;
  const link = layoutOf(c).currentLink(c.req.app);
  const cur = await readCurrent(link);
  c.previousLink = cur.kind === 'link' ? cur.target : undefined;
  await beginActivation(layoutOf(c), c.req.app, { release: target.id, previous: c.previousLink, previousId: c.previousId });
  await swapCurrent(link, c.reuse?.path ?? target.id);
  c.swapped = true;
}

async function verifyStage(c: DeployCtx): Promise<void> {
  await failpoint('verify');
  const target = c.reuse ?? c.record!;
  const ax = activationEnv(c);
  const v = await verify(ax, target.id, releasePath(layoutOf(c), c.req.app, target));
  if (v.warning) c.notes.push(v.warning);
  if (v.ok) return;
  const message = await revert(ax, target.id, c.previousLink, c.previousId, v.reason!);
  c.reverted = true;
  throw unhealthy(message, { release: target.id, supervisor: v.supervisor });
}

async function record(c: DeployCtx): Promise<void> {
  await failpoint('record');
  const layout = layoutOf(c);
  const now = c.engine.now().toISOString();
  const live = c.reuse ?? c.record!;
  const records: ReleaseRecord[] = [];
  const prev = c.state!.releases.find((r) => r.id === c.previousId);
  if (prev && prev.id !== live.id) records.push({ ...prev, status: 'previous' });
  const { pid: _pid, error: _error, ...rest } = live;
  records.push({ ...rest, status: 'live', sealed: true, finishedAt: now });
  await appendLog(layout.releaseLog(c.req.app), records);
  await endActivation(layout, c.req.app);
  c.log?.write(`live: ${live.id} (${live.version})\n`);
  if (c.req.from) {
    await updateJson(layout.appConfig(c.req.app), (v) => {
      v.source = formatSource(c.source!);
    });
  }
}

async function pruneStage(c: DeployCtx): Promise<void> {
  const state = await reconcile(layoutOf(c), c.req.app, c.engine.now);
  const keep = typeof c.settings.keep === 'number' ? c.settings.keep : DEFAULTS.keep;
  c.pruned = await prune(layoutOf(c), state, keep);
}

export const deployStages: Stage<DeployCtx>[] = [
  { name: 'resolve', run: resolveSource },
  { name: 'lock', run: lock },
  { name: 'recover', run: recover },
  { name: 'probe', run: probe },
  { name: 'fetch', run: fetchStage, skip: building },
  { name: 'begin', run: begin, skip: building },
  { name: 'materialize', run: materializeStage, skip: building },
  { name: 'install', run: install, skip: (c) => building(c) || !wants(c, 'install') },
  { name: 'predeploy', run: predeploy, skip: (c) => building(c) || !wants(c, 'predeploy') },
  { name: 'relink', run: relinkStage, skip: (c) => building(c) || !c.copies },
  { name: 'seal', run: seal, skip: building },
  { name: 'swap', run: swap, skip: (c) => !!c.unchanged, activating: true },
  { name: 'verify', run: verifyStage, skip: (c) => !!c.unchanged },
  { name: 'record', run: record, skip: (c) => !!c.unchanged },
  { name: 'prune', run: pruneStage, skip: (c) => !!c.unchanged },
];

export async function deploy(engine: Engine, req: DeployRequest): Promise<OpResult> {
  const layout = engine.layout;
  const settings = await effectiveConfig(layout, req.app);
  const env = await effectiveEnv(layout, req.app);
  const timeout = typeof settings['build.timeout'] === 'number' ? settings['build.timeout'] : DEFAULTS.buildTimeout;
  const ctx: DeployCtx = { engine, req, settings, env, blobs: new BlobStore(layout.blobsRoot), deadline: Date.now() + timeout * 1000, notes: [] };
  return runFlow(deployStages, ctx, {
    async failed(c, err, stage) {
      if (c.staging) await fs.rm(c.staging, { recursive: true, force: true });
      if (c.sealed && !c.swapped) await fs.rm(layout.releaseDir(req.app, c.id!), { recursive: true, force: true });
      if (c.record && !c.swapped) {
        const logTail = typeof err.data.logTail === 'string' ? err.data.logTail : undefined;
        c.log?.write(`failed in ${stage}: ${err.message}\n`);
        await appendLog(layout.releaseLog(req.app), [
          { ...c.record, status: 'failed', sealed: false, finishedAt: engine.now().toISOString(), error: { code: err.code, message: err.message, stage, ...(logTail ? { logTail } : {}) } },
        ]);
      }
    },
    async finally(c) {
      c.log?.close();
      await c.trash;
      await c.lock?.release();
    },
    result(c) {
      const live = c.unchanged ? c.state?.releases.find((r) => r.id === c.state?.liveId) : (c.reuse ?? c.record);
      return {
        op: 'deploy',
        app: req.app,
        release: live?.id,
        version: live?.version ?? c.probe?.version,
        commit: live?.commit ?? c.snapshot?.commit,
        status: c.unchanged ? 'unchanged' : 'live',
        reused: !!c.reuse,
        unchanged: !!c.unchanged,
        previous: c.previousId,
        bytesFetched: c.snapshot?.bytesFetched ?? 0,
        pruned: c.pruned,
        notes: c.notes.length ? c.notes : undefined,
        log: c.id ? layout.deployLog(req.app, c.id) : undefined,
      };
    },
  }, engine.events);
}
