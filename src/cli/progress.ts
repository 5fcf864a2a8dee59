// Progress of a deploy or a rollback, for people or for programs (--progress):
//   text  a line per stage in plain words on stderr, download progress redrawn in place
//         (the default at a terminal);
//   json  one JSON object per line on stdout: each stage's start and end (or skip), download
//         progress, and the result as the last line (the default never);
//   none  nothing until the result (the default when stderr is not a terminal, or with --json).
import type { FlowEvents } from '../activate/run-flow.js';
import { RevError } from '../errors.js';
import { printable } from '../printable.js';
import { printLine } from './common.js';

export type ProgressMode = 'text' | 'json' | 'none';

export function progressMode(raw: unknown, json: boolean): ProgressMode {
  if (raw === undefined || raw === '') return json ? 'none' : process.stderr.isTTY ? 'text' : 'none';
  if (raw === 'text' || raw === 'json' || raw === 'none') return raw;
  throw new RevError('USAGE', `--progress takes text, json or none, not "${printable(raw)}".`);
}

/** Download phases as a person says them. */
const PHASES: Record<string, string> = { receiving: 'downloading', download: 'downloading', archive: 'unpacking' };

export function size(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}

export function progress(mode: ProgressMode, verbose: boolean): FlowEvents {
  if (mode === 'json') return jsonProgress(verbose);
  if (mode === 'text') return textProgress(verbose);
  if (!verbose) return {};
  const say = (text: string) => void process.stderr.write(printable(text, { lines: true }));
  return { onText: say, onWait: say };
}

/** Redraws (`\r`, erase line) only at a terminal; elsewhere each stage is a line, no more. */
function textProgress(verbose: boolean): FlowEvents {
  const t0 = Date.now();
  const redraw = !!process.stderr.isTTY;
  let lastDraw = 0;
  let drawn = false;
  let downloaded = 0;
  const clear = () => {
    if (drawn) process.stderr.write('\r\x1b[K');
    drawn = false;
  };
  const say = (text: string) => {
    clear();
    process.stderr.write(printable(text, { lines: true }));
  };
  return {
    onStage(_name, says) {
      clear();
      process.stderr.write(`  ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s  ${printable(says)}\n`);
    },
    onStageEnd({ skipped }) {
      if (skipped || !downloaded) return;
      clear();
      // How much came, whether or not it was drawn as it came.
      process.stderr.write(`          downloaded ${size(downloaded)}\n`);
      downloaded = 0;
    },
    onProgress({ phase, loaded, total }) {
      if (phase !== 'archive') downloaded = loaded;
      if (!redraw || Date.now() - lastDraw < 100) return;
      lastDraw = Date.now();
      const pct = total ? ` (${Math.floor((100 * loaded) / total)}%)` : '';
      process.stderr.write(`\r\x1b[K          ${PHASES[phase] ?? phase} ${size(loaded)}${pct}`);
      drawn = true;
    },
    // Handed on as a bare function (build.ts's fileLog): no `this`.
    onText: verbose ? say : undefined,
    onWait: say,
  };
}

function jsonProgress(verbose: boolean): FlowEvents {
  const t0 = Date.now();
  let lastDraw = 0;
  const at = () => Date.now() - t0;
  return {
    onStage(stage, says) {
      printLine({ event: 'stage', stage, state: 'start', says, ms: at() });
    },
    onStageEnd({ name, ms, skipped, reason }) {
      printLine(skipped ? { event: 'stage', stage: name, state: 'skipped', reason } : { event: 'stage', stage: name, state: 'end', took: ms, ms: at() });
    },
    onProgress({ phase, loaded, total }) {
      // A line per tenth of a second at most: a reader wants movement, not every packet.
      if (Date.now() - lastDraw < 100) return;
      lastDraw = Date.now();
      printLine({ event: 'progress', phase: PHASES[phase] ?? phase, loaded, ...(total ? { total } : {}) });
    },
    onText(text) {
      if (verbose) printLine({ event: 'log', text });
    },
    onWait(text) {
      printLine({ event: 'log', text });
    },
  };
}
