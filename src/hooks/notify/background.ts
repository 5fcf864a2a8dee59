// After a `toes deploy` or `toes rollback` that left messages in the outbox: when `toes
// serve` runs, its sender picks them up (it looks every 2 s); otherwise a sender of its own
// is started (notify-sender.ts), detached, so the command returns at once, as the prune's
// collection does. A sender already running takes them instead (notify-sender exits).
import { createRequire } from 'node:module';
import path from 'node:path';
import type { OpResult } from '../../activate/result.js';
import { entryBeside } from '../../activate/entry-file.js';
import type { Layout } from '../../releases/paths.js';
import { runningDaemon } from '../serve/serve-info.js';
import { noteOutcome, noteStarted } from './record.js';
import { waiting } from './outbox.js';

export async function startSender(layout: Layout): Promise<void> {
  if (await runningDaemon(layout)) return;
  const { roots } = layout;
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: roots.dataDir, APPS_DIR: roots.appsDir, TOES_DIR: roots.toesDir };
  // require, not import(): in the CommonJS bundle for Node, import() would start the ES
  // module loader (prune.ts does the same).
  const require = createRequire(import.meta.url);
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  const { fileURLToPath } = require('node:url') as typeof import('node:url');
  const program = entryBeside(path.dirname(fileURLToPath(import.meta.url)), 'notify-sender');
  try {
    const child = spawn(process.execPath, [program], { env, detached: true, stdio: 'ignore' });
    child.on('error', () => {});
    child.unref();
  } catch {
    // whatever is left is sent by the next command or daemon start
  }
}

/**
 * A command's part: the outcome into the outbox, then a sender for it. Never fails the
 * command (its deploy is done); a note on stderr says what could not be recorded.
 */
export async function notifyAfter(layout: Layout, r: OpResult, trigger: string): Promise<void> {
  try {
    await noteOutcome(layout, r, { trigger });
  } catch (err) {
    process.stderr.write(`toes: note: the deploy's status and events could not be recorded (${(err as Error).message}); they are not sent\n`);
  }
  if (await waiting(layout)) await startSender(layout);
}

/** A command's deploy starts: deploy.started for the receivers (no commit is known yet). */
export async function notifyStarted(layout: Layout, app: string, trigger: string): Promise<void> {
  try {
    if (await noteStarted(layout, app, { trigger })) await startSender(layout);
  } catch {
    // the outcome's events still go
  }
}
