// What recording a deploy's outcome in the notify outbox costs the command, in process:
// `node dist/bench/notify-outcome.js` (or `bun dist/bench/notify-outcome.js`). Medians of 41.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { OpResult } from '../src/activate/result.js';
import { addReceiver } from '../src/hooks/notify/receivers.js';
import { noteOutcome } from '../src/hooks/notify/record.js';
import { Layout, resolveRoots } from '../src/releases/paths.js';
import { writeJson } from '../src/releases/settings/files.js';

const data = fs.mkdtempSync(path.join(os.tmpdir(), 'notify-bench-'));
const layout = new Layout(resolveRoots({ dataDir: data }, {}));
const r: OpResult = { ok: true, op: 'rollback', app: 'sample', release: '20261206-000001', commit: 'a'.repeat(40), version: 'a'.repeat(40), status: 'live', stages: [], durationMs: 1 };

async function median(label: string, op: () => Promise<unknown>, n = 41): Promise<void> {
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = process.hrtime.bigint();
    await op();
    t.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  console.log(`${label}: median ${t.sort((a, b) => a - b)[n >> 1].toFixed(2)} ms over ${n}`);
}

try {
  fs.mkdirSync(layout.appState('sample'), { recursive: true });
  await median('rollback outcome, no receivers', () => noteOutcome(layout, r, { trigger: 'cli' }));
  await addReceiver(layout, { global: false, app: 'sample' }, 'https://example.invalid/hook');
  await median('rollback outcome, 1 receiver (1 outbox file)', () => noteOutcome(layout, r, { trigger: 'cli' }));
  await writeJson(layout.appConfig('sample'), { source: 'https://github.com/me/app.git' });
  await writeJson(layout.appEnv('sample'), { FORGE_TOKEN: 'x' });
  await median('deploy outcome, 1 receiver + a GitHub status (2 outbox files)', () => noteOutcome(layout, { ...r, op: 'deploy' }, { trigger: 'cli' }));
} finally {
  fs.rmSync(data, { recursive: true, force: true });
}
