// Progress for long work, on stderr, only when a person is watching (a terminal).
import type { FlowEvents } from '../activate/index.js';

export function progress(enabled: boolean, verbose: boolean): FlowEvents {
  if (!enabled && !verbose) return {};
  const t0 = Date.now();
  return {
    onStage(name) {
      if (enabled) process.stderr.write(`  ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s  ${name}\n`);
    },
    onText(text) {
      if (verbose || text.startsWith('waiting for the lock')) process.stderr.write(text);
    },
  };
}
