// The timed rounds for one repository: in each, a cold deploy, a one-commit deploy and a
// rollback (no restart), done by the native-git script and by toes under each runtime,
// back to back, so all see the same machine. The order rotates every round, and the
// filesystem settles before each step (`sync`, a pause): on this machine, creating files
// right after another step's writes and deletions cost several times more (README,
// Performance). Round directories are deleted only after the last round, untimed.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { NativeDeployer, type NativeSample } from './native.js';
import type { BenchRepo } from './repo.js';
import { RUNTIMES, Toes, type Runtime, type StageTiming, type ToesSample } from './toes.js';

export const APP = 'app';

export interface Series {
  ms: number[];
  /** Wall time minus the flow's own durationMs: process start-up, module loading, exit. */
  outsideMs: number[];
  peakKb: number[];
  stages: StageTiming[][];
  bytesFetched: number[];
}

export type Op = 'cold' | 'incr' | 'rollback';
export const OPS: Op[] = ['cold', 'incr', 'rollback'];

export interface TimingResults {
  /** Things toes did that it should not have, noticed along the way (printed, never fatal). */
  notes: string[];
  toes: Record<Runtime, Record<Op, Series>>;
  script: Record<Op, Series>;
}

const series = (): Series => ({ ms: [], outsideMs: [], peakKb: [], stages: [], bytesFetched: [] });
const opSeries = (): Record<Op, Series> => ({ cold: series(), incr: series(), rollback: series() });

function addToes(s: Series, x: ToesSample): void {
  s.ms.push(x.ms);
  s.outsideMs.push(x.ms - x.json.durationMs);
  if (x.peakKb) s.peakKb.push(x.peakKb);
  s.stages.push(x.json.stages);
  s.bytesFetched.push(x.json.bytesFetched ?? 0);
}

function addScript(s: Series, x: NativeSample): void {
  s.ms.push(x.ms);
  s.outsideMs.push(x.ms - x.stages.reduce((a, st) => a + st.ms, 0));
  s.stages.push(x.stages);
}

export interface Ctx {
  tmp: string;
  url: string;
  script: string;
  env: NodeJS.ProcessEnv;
  repo: BenchRepo;
  log(msg: string): void;
}

/** Lets the previous step's writeback and discards finish before the next step is timed. */
export async function settle(): Promise<void> {
  spawnSync('sync');
  await new Promise((r) => setTimeout(r, 150));
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

type Side = 'script' | Runtime;
const SIDES: Side[] = ['script', ...RUNTIMES];

export async function timingRounds(c: Ctx, runs: number): Promise<TimingResults> {
  const r: TimingResults = { notes: [], toes: { bun: opSeries(), node: opSeries() }, script: opSeries() };
  const dirs: string[] = [];
  try {
    for (let i = 1; i <= runs; i++) {
      const dir = path.join(c.tmp, `round-${i}`);
      dirs.push(dir);
      const native = new NativeDeployer(c.script, path.join(dir, 'script'), c.url, c.env);
      const toes = Object.fromEntries(RUNTIMES.map((rt) => [rt, new Toes(path.join(dir, rt), c.env, rt)])) as Record<Runtime, Toes>;
      const order = SIDES.map((_, k) => SIDES[(k + i) % SIDES.length]);
      const cold: Partial<Record<Runtime, ToesSample>> = {};
      const line: string[] = [];

      for (const side of order) {
        await settle();
        if (side === 'script') addScript(r.script.cold, await native.cold());
        else {
          const x = (cold[side] = await toes[side].cli(['deploy', APP, '--from', c.url, '--no-install']));
          expectLive(x, undefined, `cold deploy (${side})`);
          addToes(r.toes[side].cold, x);
        }
      }
      if (i === 1) for (const rt of RUNTIMES) assertSameTree(path.join(toes[rt].appDir(APP), 'current'), native.releaseDir(0));

      const commit = await c.repo.changeOneLine();
      for (const side of order) {
        await settle();
        if (side === 'script') addScript(r.script.incr, await native.incremental());
        else {
          const x = await toes[side].cli(['deploy', APP, '--no-install']);
          expectLive(x, commit, `one-commit deploy (${side})`);
          addToes(r.toes[side].incr, x);
          // A one-commit change should download about one blob, not the snapshot again.
          const cost = x.json.bytesFetched ?? 0;
          if (cost > (cold[side]!.json.bytesFetched ?? 0) / 2) r.notes.push(`round ${i}: one-commit deploy (${side}) downloaded ${cost} bytes (the cold deploy: ${cold[side]!.json.bytesFetched})`);
        }
      }
      if (i === 1) for (const rt of RUNTIMES) assertSameTree(path.join(toes[rt].appDir(APP), 'current'), native.releaseDir(1));

      for (const side of order) {
        await settle();
        if (side === 'script') addScript(r.script.rollback, await native.rollback());
        else {
          const back = await toes[side].cli(['rollback', APP]);
          if (back.json.release !== cold[side]!.json.release) throw new Error(`rollback (${side}) went to ${back.json.release}, not ${cold[side]!.json.release}`);
          addToes(r.toes[side].rollback, back);
        }
      }
      for (const side of SIDES) {
        const s = side === 'script' ? r.script : r.toes[side];
        line.push(`${side} ${OPS.map((op) => Math.round(s[op].ms.at(-1)!)).join('/')}`);
      }
      c.log(`round ${i}/${runs} (cold/one-commit/rollback ms): ${line.join(', ')}`);
    }
    return r;
  } finally {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    spawnSync('sync');
  }
}
