// Starts a worker process (worker.ts) for a queued deploy, or for the settings page's
// rollback, and resolves with the OpResult it printed; when it printed none (it could not
// start, died, or was stopped), with a lostResult saying so. The worker's stderr (failpoints,
// notes) is passed to the daemon's.
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { entryBeside } from '../../activate/entry-file.js';
import { lostResult, type OpResult } from '../../activate/result.js';
import type { Layout } from '../../releases/paths.js';
import type { DeployRunner } from './scheduler.js';
import { triggerOf, type WorkerRequest } from './worker-request.js';
import { workerRuntime } from './worker-runtime.js';

const DEPLOY_NICE = 10;

// scripts/bundle.mjs puts the worker next to the chunk holding this code.
const workerPath = entryBeside(path.dirname(fileURLToPath(import.meta.url)), 'worker');

function workerEnv(layout: Layout): NodeJS.ProcessEnv {
  const { roots } = layout;
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: roots.dataDir, APPS_DIR: roots.appsDir, TOES_DIR: roots.toesDir, TOES_REV_QUIET: '1' };
  if (roots.toesUrl) env.TOES_URL = roots.toesUrl;
  return env;
}

/** The OpResult line a worker printed last, if it printed one. */
function printedResult(out: string): OpResult | undefined {
  try {
    const res = JSON.parse(out.trim().split('\n').pop() ?? '');
    return res && typeof res.ok === 'boolean' ? res : undefined;
  } catch {
    return undefined;
  }
}

/** A rollback for the settings page, in a worker too: it needs the activation modules. */
export function rollbackInWorker(layout: Layout, app: string, release: string): Promise<OpResult> {
  const req: WorkerRequest = { op: 'rollback', app, to: release, trigger: 'page' };
  return new Promise((resolve) => {
    const started = Date.now();
    let child;
    try {
      child = spawn(workerRuntime(), [workerPath, JSON.stringify(req)], { env: workerEnv(layout), stdio: ['ignore', 'pipe', 'ignore'] });
    } catch (err) {
      return resolve(lostResult('rollback', app, 'INTERNAL', `could not start the rollback: ${(err as Error).message}`));
    }
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', (err) => resolve(lostResult('rollback', app, 'INTERNAL', `could not start the rollback: ${err.message}`)));
    child.on('close', () => resolve(printedResult(out) ?? lostResult('rollback', app, 'INTERNAL', 'the rollback process died; see the daemon log', Date.now() - started)));
  });
}

export function workerRunner(layout: Layout, stderr: NodeJS.WritableStream): DeployRunner {
  const env = workerEnv(layout);
  // Decided here, as the daemon starts: a wrong TOES_RUNTIME stops `toes serve` at once.
  const exe = workerRuntime();
  return (app, event) => {
    const started = Date.now();
    const req: WorkerRequest = { op: 'deploy', app, trigger: triggerOf(event) };
    const child = spawn(exe, [workerPath, JSON.stringify(req)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    // Deploys run niced: on a small box, answering webhooks and serving the running apps
    // come before a build's speed. Its install and predeploy inherit this.
    try {
      if (child.pid) os.setPriority(child.pid, DEPLOY_NICE);
    } catch {}
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line) stderr.write(`[${app}] ${line}\n`);
    });
    let stopped = false;
    const result = new Promise<OpResult>((resolve) => {
      child.on('error', (err) => resolve(lostResult('deploy', app, 'INTERNAL', `could not start the deploy worker: ${err.message}`)));
      child.on('close', (code, signal) => {
        const ms = Date.now() - started;
        const printed = printedResult(out);
        if (printed) return resolve(printed);
        if (stopped) return resolve(lostResult('deploy', app, 'INTERRUPTED', 'stopped by the shutdown; it runs again at the next start', ms));
        resolve(lostResult('deploy', app, 'INTERNAL', `the deploy worker died (${signal ?? `exit ${code}`}); see the deploy log`, ms));
      });
    });
    return {
      result,
      stop() {
        stopped = true;
        child.kill('SIGTERM');
      },
    };
  };
}
