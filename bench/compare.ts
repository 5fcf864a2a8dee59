// The per-repository report: each operation's median for the native-git script and for
// toes under each runtime, as a ratio to the script of the same run, against the issue's
// targets; then each stage's median under each, so a regression points at its stage.
import { fmtKb, fmtMs, grid, median, stageMedians } from './report.js';
import { RUNTIMES, type Runtime } from './toes.js';
import { OPS, type Op, type Series, type TimingResults } from './timing.js';

const LABEL: Record<Op, string> = { cold: 'cold deploy', incr: 'one-commit deploy', rollback: 'rollback (no restart)' };

/** A target per runtime: a ratio to the script, or milliseconds. */
export const TARGETS: Record<Op, Record<Runtime, { ratio?: number; ms?: number }>> = {
  cold: { bun: { ratio: 0.5 }, node: { ratio: 0.5 } },
  incr: { bun: { ratio: 1.0 }, node: { ratio: 1.5 } },
  rollback: { bun: { ms: 40 }, node: { ms: 100 } },
};

export function verdict(op: Op, rt: Runtime, t: TimingResults): { text: string; pass: boolean } {
  const ms = median(t.toes[rt][op].ms);
  const ratio = ms / median(t.script[op].ms);
  const target = TARGETS[op][rt];
  const pass = target.ratio !== undefined ? ratio <= target.ratio : ms <= target.ms!;
  const want = target.ratio !== undefined ? `<= ${target.ratio}x` : `<= ${target.ms} ms`;
  return { text: `${fmtMs(ms)} (${ratio.toFixed(2)}x) ${want} ${pass ? 'PASS' : 'MISS'}`, pass };
}

export function compareReport(name: string, t: TimingResults, runs: number): string {
  const head = ['operation', 'native script', ...RUNTIMES.map((rt) => `toes on ${rt} (ratio) target`)];
  const rows = OPS.map((op) => [LABEL[op], fmtMs(median(t.script[op].ms)), ...RUNTIMES.map((rt) => verdict(op, rt, t).text)]);
  const peak = (s: Series) => (s.peakKb.length ? fmtKb(Math.max(...s.peakKb)) : 'n/a');
  rows.push(['peak RSS, cold / one-commit', '-', ...RUNTIMES.map((rt) => `${peak(t.toes[rt].cold)} / ${peak(t.toes[rt].incr)}`)]);
  const stages: string[] = [];
  for (const op of OPS) {
    stages.push(`  ${LABEL[op]}:`);
    stages.push(`    script   ${stageMedians(t.script[op].stages)}; outside the stages (bash, exit) ${fmtMs(median(t.script[op].outsideMs))}`);
    for (const rt of RUNTIMES) {
      const s = t.toes[rt][op];
      stages.push(`    ${rt.padEnd(8)} ${stageMedians(s.stages)}; outside the stages (start-up, loading, exit) ${fmtMs(median(s.outsideMs))}`);
    }
  }
  return [`${name}, medians of ${runs} rounds:`, grid(head, rows), 'stage medians:', ...stages].join('\n');
}
