// Progress for long work, on stderr, only when a person is watching (a terminal).
import type { FlowEvents } from '../activate/run-flow.js';

export function progress(enabled: boolean, verbose: boolean): FlowEvents {
  if (!enabled && !verbose) return {};
  const t0 = Date.now();
  let lastDraw = 0;
  let drawn = false;
  const clear = () => {
    if (drawn) process.stderr.write('\r\x1b[K');
    drawn = false;
  };
  return {
    onStage(name) {
      clear();
      if (enabled) process.stderr.write(`  ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s  ${name}\n`);
    },
    onProgress({ phase, loaded, total }) {
      if (!enabled || Date.now() - lastDraw < 100) return;
      lastDraw = Date.now();
      const size = loaded >= 1 << 20 ? `${(loaded / (1 << 20)).toFixed(1)} MB` : `${Math.ceil(loaded / 1024)} KB`;
      const pct = total ? ` ${size} (${Math.floor((100 * loaded) / total)}%)` : ` ${size}`;
      process.stderr.write(`\r\x1b[K          ${phase}${pct}`);
      drawn = true;
    },
    onText(text) {
      clear();
      if (verbose || text.startsWith('waiting for the lock')) process.stderr.write(text);
    },
  };
}
