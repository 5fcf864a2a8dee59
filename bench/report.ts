// Medians and the printed tables. A missed target prints MISS; it never fails the bench,
// because timings on a shared machine are evidence to read, not assertions.

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const fmtMs = (ms: number) => (Number.isNaN(ms) ? 'n/a' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
export const fmtKb = (kb: number) => (Number.isNaN(kb) ? 'n/a' : kb >= 1024 ? `${(kb / 1024).toFixed(1)} MB` : `${kb} KB`);

/** Median of each stage's time across samples, in run order: where a deploy spends its time. */
export function stageMedians(samples: { name: string; ms: number; skipped?: boolean }[][]): string {
  const names = samples[0]?.filter((s) => !s.skipped).map((s) => s.name) ?? [];
  return names
    .map((n) => `${n} ${fmtMs(median(samples.map((st) => st.find((s) => s.name === n)?.ms ?? NaN).filter((x) => !Number.isNaN(x))))}`)
    .join(', ');
}

/** A plain aligned table: a header row, a rule, then the rows. */
export function grid(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]) => c.map((x, i) => (x ?? '').padEnd(widths[i])).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
