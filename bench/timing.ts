// The timed rounds: in each, a cold deploy, a one-file incremental deploy and a rollback,
// each done by toes and by the native-git script back to back, so both see the same
// machine state. Every round starts from empty directories.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { NativeDeployer } from './native.js';
import type { BenchRepo } from './repo.js';
import { Toes, type StageTiming, type ToesSample } from './toes.js';

export const APP = 'app';

export interface Series {
  ms: number[];
  /** Wall time minus the flow's own durationMs: process start-up, module loading, exit. */
  outsideMs: number[];
  peakKb: number[];
  stages: StageTiming[][];
  bytesFetched: number[];
}

export interface TimingResults {
  /** Things toes did that it should not have, noticed along the way (printed, never fatal). */
  notes: string[];
  cold: Series;
  coldNoInstall: Series;
  incr: Series;
  incrNoInstall: Series;
  rollback: Series;
  script: { cold: number[]; incr: number[]; rollback: number[] };
}

const series = (): Series => ({ ms: [], outsideMs: [], peakKb: [], stages: [], bytesFetched: [] });

function add(s: Series, x: ToesSample): void {
  s.ms.push(x.ms);
  s.outsideMs.push(x.ms - x.json.durationMs);
  if (x.peakKb) s.peakKb.push(x.peakKb);
  s.stages.push(x.json.stages);
  s.bytesFetched.push(x.json.bytesFetched ?? 0);
}

export interface Ctx {
  tmp: string;
  url: string;
  script: string;
  env: NodeJS.ProcessEnv;
  repo: BenchRepo;
  log(msg: string): void;
}

/** A timing of a deploy that did not deploy the expected commit would be meaningless. */
function expectLive(x: ToesSample, commit: string | undefined, what: string): void {
  if (x.json.status !== 'live' || (commit && x.json.commit !== commit)) {
    throw new Error(`${what}: expected a new live release of ${commit ?? 'the tip'}, got status ${x.json.status}, commit ${x.json.commit}`);
  }
}

/** Both deployers must publish the same tree, or the comparison is not like for like. */
function assertSameTree(a: string, b: string): void {
  try {
    execFileSync('diff', ['-rq', '--no-dereference', '--exclude=node_modules', '--exclude=bun.lock', '--exclude=bun.lockb', fs.realpathSync(a), b], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`toes and the script published different trees: ${String((err as { stdout?: Buffer }).stdout || (err as { stderr?: Buffer }).stderr || err).slice(0, 500)}`);
  }
}

export async function timingRounds(c: Ctx, runs: number): Promise<TimingResults> {
  const r: TimingResults = {
    notes: [],
    cold: series(),
    coldNoInstall: series(),
    incr: series(),
    incrNoInstall: series(),
    rollback: series(),
    script: { cold: [], incr: [], rollback: [] },
  };
  for (let i = 1; i <= runs; i++) {
    const dir = path.join(c.tmp, `round-${i}`);
    const toes = new Toes(path.join(dir, 'toes'), c.env);
    const noInstall = new Toes(path.join(dir, 'toes-no-install'), c.env);
    const native = new NativeDeployer(c.script, path.join(dir, 'script'), c.url, c.env);

    const cold = await toes.cli(['deploy', APP, '--from', c.url]);
    expectLive(cold, undefined, 'cold deploy');
    add(r.cold, cold);
    add(r.coldNoInstall, await noInstall.cli(['deploy', APP, '--from', c.url, '--no-install']));
    r.script.cold.push((await native.cold()).ms);
    if (i === 1) assertSameTree(path.join(toes.appDir(APP), 'current'), native.releaseDir(0));

    const commit = await c.repo.changeOneLine();
    const incr = await toes.cli(['deploy', APP]);
    expectLive(incr, commit, 'incremental deploy');
    add(r.incr, incr);
    const incrBare = await noInstall.cli(['deploy', APP, '--no-install']);
    expectLive(incrBare, commit, 'incremental deploy (--no-install)');
    add(r.incrNoInstall, incrBare);
    r.script.incr.push((await native.incremental()).ms);
    // A one-file change should download about one blob, not the snapshot again.
    for (const [label, x] of [['', incr], [' --no-install', incrBare]] as const) {
      const cost = x.json.bytesFetched ?? 0;
      if (cost > (cold.json.bytesFetched ?? 0) / 2) {
        r.notes.push(`round ${i}: one-file deploy${label} downloaded ${cost} bytes (the cold deploy: ${cold.json.bytesFetched}); fetch stage ${x.json.stages.find((s) => s.name === 'fetch')?.ms} ms`);
      }
    }
    if (i === 1) assertSameTree(path.join(toes.appDir(APP), 'current'), native.releaseDir(1));

    const back = await toes.cli(['rollback', APP]);
    if (back.json.release !== cold.json.release) throw new Error(`rollback went to ${back.json.release}, not ${cold.json.release}`);
    add(r.rollback, back);
    r.script.rollback.push((await native.rollback()).ms);

    c.log(`round ${i}/${runs}: cold ${Math.round(cold.ms)} ms, incremental ${Math.round(incr.ms)} ms, rollback ${Math.round(back.ms)} ms`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return r;
}
