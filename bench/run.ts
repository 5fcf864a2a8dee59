// `npm run bench`: toes on Bun and on Node against a careful native-git script, on two
// generated repositories (many small files; a few large ones) served over real smart HTTP
// on loopback, in the same run. Prints a table per repository with ratios to the script,
// stage medians, activation, webhook and relay figures under each runtime, and one
// `BENCH_JSON {...}` line; exits 0 whatever the figures (1 only if the bench broke).
// BENCH_RUNS sets the rounds (default 5); BENCH_ONLY=deploys stops after the deploy tables,
// BENCH_ONLY=activation runs only the activation rounds (BENCH_RUNTIME=bun|node: on one runtime).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startGitServer, type GitServer } from '../test/fixtures/git-server.js';
import { diskChain, type DiskResults } from './disk.js';
import { filesystemNote } from './filesystem.js';
import { gcRounds } from './gc.js';
import { memoryRounds } from './memory.js';
import { relayClusterRounds, relayClusterSummary } from './relay-cluster.js';
import { NativeDeployer } from './native.js';
import { buildRepo, gitEnv, REPOS } from './repo.js';
import { compareReport } from './compare.js';
import { fmtKb, fmtMs, median } from './report.js';
import { binDir, RUNTIMES } from './toes.js';
import { OPS, timingRounds, type Ctx, type Op, type Series, type TimingResults } from './timing.js';
import { activationRounds, activationSummary } from './activation.js';
import { webhookRounds, webhookSummary } from './webhooks.js';
import { relayRounds, relaySummary } from './relay.js';
import { relayMemoryRounds, relayMemorySummary } from './relay-memory.js';

const DISK_RELEASES = 10;
const DISK_TARGET = 1.3;

/** Snapshot sizes for the peak-memory rounds (BENCH_MEMORY_MB=20,200,500 for the issue's full set). */
const MEMORY_MB = (process.env.BENCH_MEMORY_MB ?? '20,200').split(',').map(Number).filter((n) => n > 0);

function runsFromEnv(): number {
  const n = Number(process.env.BENCH_RUNS ?? 5);
  if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_RUNS must be a positive integer, not "${process.env.BENCH_RUNS}"`);
  return n;
}

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

function diskReport(d: DiskResults): string {
  const ratio = (x: DiskResults['toes']) => x.allKb / x.oneKb;
  return [
    `disk, ${d.releases} one-commit releases / 1 (app dir): toes ${fmtKb(d.toes.allKb)} / ${fmtKb(d.toes.oneKb)} = ${ratio(d.toes).toFixed(2)}x ` +
      `(target < ${DISK_TARGET}x: ${ratio(d.toes) < DISK_TARGET ? 'PASS' : 'MISS'}); script ${ratio(d.script).toFixed(2)}x`,
    `  store after ${d.releases} releases: toes ${fmtKb(d.toes.storeAllKb)}, script ${fmtKb(d.script.storeAllKb)}; app dir + store counted once: toes ${fmtKb(d.toes.totalAllKb)}, script ${fmtKb(d.script.totalAllKb)}`,
  ].join('\n');
}

function summarize(t: TimingResults): object {
  const s = (x: Series) => ({
    medianMs: median(x.ms),
    outsideStagesMedianMs: median(x.outsideMs),
    ms: x.ms.map(Math.round),
    peakKb: x.peakKb,
    bytesFetched: median(x.bytesFetched),
    stagesMedianMs: Object.fromEntries((x.stages[0] ?? []).filter((st) => !st.skipped).map((st) => [st.name, median(x.stages.map((all) => all.find((y) => y.name === st.name)?.ms ?? 0))])),
  });
  const ops = (o: Record<Op, Series>) => Object.fromEntries(OPS.map((op) => [op, s(o[op])]));
  return { notes: t.notes, script: ops(t.script), ...Object.fromEntries(RUNTIMES.map((rt) => [rt, ops(t.toes[rt])])) };
}

async function main(): Promise<number> {
  const runs = runsFromEnv();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'toes-bench-'));
  const servers: GitServer[] = [];
  const cleanup = () => fs.rmSync(tmp, { recursive: true, force: true });
  // An interrupted bench must not leave 100 MB of releases in /tmp.
  const onSignal = () => {
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const home = path.join(tmp, 'home');
    fs.mkdirSync(home);
    const started = performance.now();
    const loadAtStart = load();
    const fsNote = filesystemNote(tmp);
    log(fsNote);
    // Same environment for every side; HOME in the temp dir keeps user config out of git and bun.
    const env = { ...gitEnv(home), PATH: `${binDir}:${process.env.PATH}` };
    const script = NativeDeployer.writeScript(tmp);
    if (process.env.BENCH_ONLY === 'activation') {
      for (const rt of RUNTIMES.filter((r) => !process.env.BENCH_RUNTIME || r === process.env.BENCH_RUNTIME)) {
        log(`activation on ${rt}: restart and health with the Toes-like supervisor`);
        console.log(`\n${activationSummary(await activationRounds(tmp, env, runs, rt))}`);
      }
      console.log(`\nload average at start ${loadAtStart}, at end ${load()}`);
      return 0;
    }
    const reports: string[] = [];
    const json: Record<string, unknown> = { runs, loadavgAtStart: os.loadavg(), filesystem: fsNote };
    let first: Ctx | undefined;
    for (const { name, spec } of REPOS) {
      const root = path.join(tmp, name.replace(/\W+/g, '-'));
      const t0 = performance.now();
      const repo = await buildRepo(path.join(root, 'server'), home, spec);
      log(`${name}: ${repo.files} files, ${fmtKb(Math.round(repo.bytes / 1024))}, ${repo.commits} commits, built in ${fmtMs(performance.now() - t0)}`);
      const server = await startGitServer(path.join(root, 'server'));
      servers.push(server);
      const ctx: Ctx = { tmp: root, url: server.repoUrl('app.git'), script, env, repo, log };
      first ??= ctx;
      const t = await timingRounds(ctx, runs);
      const title = `${name} (${repo.files.toLocaleString('en-US')} files, ${fmtKb(Math.round(repo.bytes / 1024))}, ${repo.commits}+ commits)`;
      reports.push(compareReport(title, t, runs) + (t.notes.length ? `\nnoticed:\n${t.notes.map((n) => `  ${n}`).join('\n')}` : ''));
      json[name] = { repo: { files: repo.files, bytes: repo.bytes, commits: repo.commits }, ...summarize(t) };
    }
    const c = first!;
    if (process.env.BENCH_ONLY === 'deploys') {
      console.log(`\n${reports.join('\n\n')}\n\n${fsNote}\nload average at start ${loadAtStart}, at end ${load()}`);
      return 0;
    }
    log(`disk: ${DISK_RELEASES} releases, one file changed between each`);
    const d = await diskChain(c, DISK_RELEASES);
    const act = [];
    const hooks = [];
    const relay = [];
    const relayMemory = [];
    for (const rt of RUNTIMES) {
      log(`activation on ${rt}: restart and health with the Toes-like supervisor`);
      act.push(await activationRounds(tmp, env, runs, rt));
      log(`webhooks on ${rt}: toes serve, webhook to live, acknowledgements per second`);
      hooks.push(await webhookRounds(c, runs, rt));
      log(`relay on ${rt}: accept to ack, sustained rate, memory with 10,000 waiting`);
      relay.push(await relayRounds(c, runs, rt));
      relayMemory.push(await relayMemoryRounds(c, rt));
    }

    log('gc: 8 deploys of a changing 5 MB asset, keep 2');
    const gc = await gcRounds(2, 8, { ...env, TOES_REV_QUIET: '1' }, log);
    log(`memory: peak RSS of cold deploys against snapshot size (${MEMORY_MB.join(', ')} MB)`);
    const memory = await memoryRounds(MEMORY_MB, { ...env, TOES_REV_QUIET: '1' }, log);
    // The relay cluster (3 nats-server, 3 relay nodes, HAProxy, 10,000 links) takes minutes: on request.
    const cluster = process.env.BENCH_RELAY_CLUSTER === '1' ? await relayClusterRounds({ log }) : undefined;

    // Every side shares the machine, but a busy machine inflates everything: say how busy.
    console.log(`\ntoes (bun and node, through bin/toes) vs the native-git script, --no-install, medians of ${runs} runs`);
    console.log(`${os.cpus().length} CPUs, load average at start ${loadAtStart}, at end ${load()}; ${fsNote}\n`);
    console.log(reports.join('\n\n'));
    console.log(`\n${diskReport(d)}`);
    console.log(`\ndisk given back (keep 2, 8 deploys of a changing 5 MB asset): DATA_DIR ${gc.ratio.toFixed(2)}x the kept releases (target <= 1.25x), ${gc.ratioAfterGc.toFixed(2)}x after toes gc (target <= 1.05x); outside the stages: median ${fmtMs(median(gc.afterStagesMs.pruning))} when pruning, ${fmtMs(median(gc.afterStagesMs.other))} otherwise`);
    console.log(`\npeak RSS of a cold deploy (incompressible assets, runtime of bin/toes): ${memory.map((p) => `${p.snapshotMb} MB snapshot ${p.peakMb} MB`).join(', ')} (target <= 128 MB)`);
    for (const a of act) console.log(`\n${activationSummary(a)}`);
    for (const h of hooks) console.log(`\n${webhookSummary(h)}`);
    for (const r of relay) console.log(`\n${relaySummary(r)}`);
    for (const r of relayMemory) console.log(`\n${relayMemorySummary(r)}`);
    if (cluster) console.log(`\n${relayClusterSummary(cluster)}`);
    console.log(`\nBENCH_JSON ${JSON.stringify({ ...json, loadavgAtEnd: os.loadavg(), disk: d, gc, memory, activation: act, webhooks: hooks, relay, relayMemory, relayCluster: cluster })}`);
    log(`done in ${fmtMs(performance.now() - started)}`);
    return 0;
  } catch (err) {
    process.stderr.write(`bench: failed: ${(err as Error).stack ?? err}\n`);
    return 1;
  } finally {
    for (const server of servers) await server.close();
    cleanup();
  }
}

process.exitCode = await main();
