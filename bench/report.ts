// Medians and the printed table. A missed target prints MISS; it never fails the bench,
// because timings on a shared machine are evidence to read, not assertions.

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export interface Row {
  op: string;
  toes: string;
  script: string;
  target: string;
  /** undefined: no target for this row. */
  pass?: boolean;
}

export const fmtMs = (ms: number) => (Number.isNaN(ms) ? 'n/a' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
export const fmtKb = (kb: number) => (Number.isNaN(kb) ? 'n/a' : kb >= 1024 ? `${(kb / 1024).toFixed(1)} MB` : `${kb} KB`);

export function table(rows: Row[]): string {
  const head = ['operation', 'toes', 'script (native git)', 'target', 'result'];
  const cells = rows.map((r) => [r.op, r.toes, r.script, r.target, r.pass === undefined ? '-' : r.pass ? 'PASS' : 'MISS']);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i])).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** Median of each stage's time across samples, in run order: where a deploy spends its time. */
export function stageMedians(samples: { name: string; ms: number; skipped?: boolean }[][]): string {
  const names = samples[0]?.filter((s) => !s.skipped).map((s) => s.name) ?? [];
  return names
    .map((n) => `${n} ${fmtMs(median(samples.map((st) => st.find((s) => s.name === n)?.ms ?? NaN).filter((x) => !Number.isNaN(x))))}`)
    .join(', ');
}
