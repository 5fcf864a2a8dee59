// `npm run bench`: toes against a plain native-git script on a generated ~15 MB,
// 3,000-file repository served over real smart HTTP on loopback. Prints a table and
// one `BENCH_JSON {...}` line; exits 0 whatever the figures (1 only if the bench broke).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startGitServer, type GitServer } from '../test/fixtures/git-server.js';
import { diskChain, type DiskResults } from './disk.js';
import { gcRounds } from './gc.js';
import { NativeDeployer } from './native.js';
import { buildRepo, gitEnv } from './repo.js';
import { fmtKb, fmtMs, median, stageMedians, table, type Row } from './report.js';
import { binDir } from './toes.js';
import { timingRounds, type TimingResults } from './timing.js';
import { activationRounds, activationSummary } from './activation.js';
import { webhookRounds, webhookSummary } from './webhooks.js';
import { relayRounds, relaySummary } from './relay.js';

const SPEC = { files: 3000, dirs: 150, totalBytes: 15 * 1024 * 1024, commits: 220, seed: 0x70e5 };
const DISK_RELEASES = 10;
const TARGET = { rollbackMs: 200, diskRatio: 1.3, peakMb: 250 };

function runsFromEnv(): number {
  const n = Number(process.env.BENCH_RUNS ?? 5);
  if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_RUNS must be a positive integer, not "${process.env.BENCH_RUNS}"`);
  return n;
}

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const max = (xs: number[]) => (xs.length ? Math.max(...xs) : NaN);

function rows(t: TimingResults, d: DiskResults): Row[] {
  const ratio = (s: DiskResults['toes']) => s.allKb / s.oneKb;
  const toesRatio = ratio(d.toes);
  const peakCold = max(t.cold.peakKb);
  const peakIncr = max([...t.incr.peakKb, ...d.incrPeakKb]);
  const peak = (kb: number, all: number[]) => `${fmtKb(median(all))} (max ${fmtKb(kb)})`;
  return [
    { op: 'cold deploy', toes: fmtMs(median(t.cold.ms)), script: fmtMs(median(t.script.cold)), target: '<= script', pass: median(t.cold.ms) <= median(t.script.cold) },
    { op: 'cold deploy, --no-install', toes: fmtMs(median(t.coldNoInstall.ms)), script: fmtMs(median(t.script.cold)), target: '-' },
    {
      op: 'one-file deploy',
      toes: fmtMs(median(t.incr.ms)),
      script: fmtMs(median(t.script.incr)),
      target: '<= script, < 1 s',
      pass: median(t.incr.ms) <= median(t.script.incr) && median(t.incr.ms) < 1000,
    },
    { op: 'one-file deploy, --no-install', toes: fmtMs(median(t.incrNoInstall.ms)), script: fmtMs(median(t.script.incr)), target: '-' },
    { op: 'rollback', toes: fmtMs(median(t.rollback.ms)), script: fmtMs(median(t.script.rollback)), target: `< ${TARGET.rollbackMs} ms`, pass: median(t.rollback.ms) < TARGET.rollbackMs },
    {
      op: `disk, ${d.releases} releases / 1 (app dir)`,
      toes: `${fmtKb(d.toes.allKb)} / ${fmtKb(d.toes.oneKb)} = ${toesRatio.toFixed(2)}x`,
      script: `${fmtKb(d.script.allKb)} / ${fmtKb(d.script.oneKb)} = ${ratio(d.script).toFixed(2)}x`,
      target: `< ${TARGET.diskRatio}x`,
      pass: toesRatio < TARGET.diskRatio,
    },
    { op: `store after ${d.releases} releases`, toes: fmtKb(d.toes.storeAllKb), script: fmtKb(d.script.storeAllKb), target: '-' },
    { op: 'app dir + store, counted once', toes: fmtKb(d.toes.totalAllKb), script: fmtKb(d.script.totalAllKb), target: '-' },
    { op: 'peak RSS (node), cold deploy', toes: peak(peakCold, t.cold.peakKb), script: '-', target: `< ${TARGET.peakMb} MB`, pass: peakCold < TARGET.peakMb * 1024 },
    { op: 'peak RSS (node), one-file deploy', toes: peak(peakIncr, [...t.incr.peakKb, ...d.incrPeakKb]), script: '-', target: `< ${TARGET.peakMb} MB`, pass: peakIncr < TARGET.peakMb * 1024 },
  ];
}

function summary(t: TimingResults, d: DiskResults, runs: number, repo: object): object {
  const s = (x: TimingResults['cold']) => ({
    medianMs: median(x.ms),
    outsideStagesMedianMs: median(x.outsideMs),
    ms: x.ms.map(Math.round),
    peakKb: x.peakKb,
    bytesFetched: median(x.bytesFetched),
    stagesMedianMs: Object.fromEntries((x.stages[0] ?? []).filter((st) => !st.skipped).map((st) => [st.name, median(x.stages.map((all) => all.find((y) => y.name === st.name)?.ms ?? 0))])),
  });
  return {
    runs,
    repo,
    loadavg: os.loadavg(),
    notes: t.notes,
    toes: { cold: s(t.cold), coldNoInstall: s(t.coldNoInstall), incremental: s(t.incr), incrementalNoInstall: s(t.incrNoInstall), rollback: s(t.rollback) },
    script: {
      cold: { medianMs: median(t.script.cold), ms: t.script.cold.map(Math.round) },
      incremental: { medianMs: median(t.script.incr), ms: t.script.incr.map(Math.round) },
      rollback: { medianMs: median(t.script.rollback), ms: t.script.rollback.map(Math.round) },
    },
    disk: { ...d, toesRatio: d.toes.allKb / d.toes.oneKb, scriptRatio: d.script.allKb / d.script.oneKb },
    targets: TARGET,
  };
}

async function main(): Promise<number> {
  const runs = runsFromEnv();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'toes-bench-'));
  let server: GitServer | undefined;
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
    const loadAtStart = os.loadavg().map((x) => x.toFixed(2)).join(' ');
    const repo = await buildRepo(path.join(tmp, 'server'), home, SPEC);
    const repoInfo = { files: repo.files, bytes: repo.bytes, commits: repo.commits };
    log(`repository: ${repo.files} files, ${fmtKb(Math.round(repo.bytes / 1024))}, ${repo.commits} commits, built in ${fmtMs(performance.now() - started)}`);
    server = await startGitServer(path.join(tmp, 'server'));
    // Same environment for both sides; HOME in the temp dir keeps user config out of git and bun.
    const env = { ...gitEnv(home), PATH: `${binDir}:${process.env.PATH}` };
    const ctx = { tmp, url: server.repoUrl('app.git'), script: NativeDeployer.writeScript(tmp), env, repo, log };
    const t = await timingRounds(ctx, runs);
    log(`disk: ${DISK_RELEASES} releases, one file changed between each`);
    const d = await diskChain(ctx, DISK_RELEASES);

    log('gc: 8 deploys of a changing 5 MB asset, keep 2');
    const gc = await gcRounds(2, 8, { ...env, TOES_REV_QUIET: '1' }, log);

    log('activation: restart and health with the Toes-like supervisor');
    const act = await activationRounds(tmp, env, runs);

    log('webhooks: toes serve, webhook to live, acknowledgements per second');
    const hooks = await webhookRounds(ctx, runs);

    log('relay: accept to ack, sustained rate, memory with 10,000 waiting');
    const relay = await relayRounds(ctx, runs);

    // Both sides share the machine, but a busy machine inflates everything: say how busy.
    const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
    console.log(`\ntoes vs native git, ${repo.files} files, ${fmtKb(Math.round(repo.bytes / 1024))}, ${repo.commits}+ commits, medians of ${runs} runs`);
    console.log(`${os.cpus().length} CPUs, load average at start ${loadAtStart}, at end ${load}\n`);
    console.log(table(rows(t, d)));
    console.log('\ntoes stages (median):');
    console.log(`  cold:     ${stageMedians(t.cold.stages)}`);
    console.log(`  one-file: ${stageMedians(t.incr.stages)}`);
    console.log(`  rollback: ${stageMedians(t.rollback.stages)}`);
    const outside = (x: TimingResults['cold']) => fmtMs(median(x.outsideMs));
    console.log(`  outside the stages (start-up, module loading, exit): cold ${outside(t.cold)}, one-file ${outside(t.incr)}, rollback ${outside(t.rollback)}`);
    console.log(`\ndisk given back (keep 2, 8 deploys of a changing 5 MB asset): DATA_DIR ${gc.ratio.toFixed(2)}x the kept releases (target <= 1.25x), ${gc.ratioAfterGc.toFixed(2)}x after toes gc (target <= 1.05x); outside the stages (start-up, collection, exit): median ${fmtMs(median(gc.afterStagesMs.pruning))} when pruning, ${fmtMs(median(gc.afterStagesMs.other))} otherwise`);
    console.log(`\n${activationSummary(act)}`);
    console.log(`\n${webhookSummary(hooks)}`);
    console.log(`\n${relaySummary(relay)}`);
    if (t.notes.length) console.log(`\nnoticed:\n${t.notes.map((n) => `  ${n}`).join('\n')}`);
    console.log(`\nBENCH_JSON ${JSON.stringify({ ...summary(t, d, runs, repoInfo), gc, activation: act, webhooks: hooks, relay })}`);
    log(`done in ${fmtMs(performance.now() - started)}`);
    return 0;
  } catch (err) {
    process.stderr.write(`bench: failed: ${(err as Error).stack ?? err}\n`);
    return 1;
  } finally {
    await server?.close();
    cleanup();
  }
}

process.exitCode = await main();
