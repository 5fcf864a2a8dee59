// Starts a deploy worker process for one queued event (see worker.ts) and turns its exit
// into a RunOutcome. The worker's stderr (failpoints, notes) is passed to the daemon's.
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Layout } from '../../releases/paths.js';
import type { DeployRunner, RunOutcome } from './scheduler.js';

const DEPLOY_NICE = 10;

const workerPath = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker.js');

function workerEnv(layout: Layout): NodeJS.ProcessEnv {
  const { roots } = layout;
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: roots.dataDir, APPS_DIR: roots.appsDir, TOES_DIR: roots.toesDir, TOES_REV_QUIET: '1' };
  if (roots.toesUrl) env.TOES_URL = roots.toesUrl;
  return env;
}

/** A rollback for the settings page, in a worker too: it needs the activation modules. */
export function rollbackInWorker(layout: Layout, app: string, release: string): Promise<{ ok: boolean; code?: string; message: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [workerPath, 'rollback', app, release], { env: workerEnv(layout), stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', (err) => resolve({ ok: false, code: 'INTERNAL', message: `could not start the rollback: ${err.message}` }));
    child.on('close', () => {
      try {
        const res = JSON.parse(out.trim().split('\n').pop() ?? '');
        if (res.ok) return resolve({ ok: true, message: `${app} is live at ${res.release} again.` });
        return resolve({ ok: false, code: res.error?.code, message: res.error?.message ?? 'the rollback failed' });
      } catch {
        resolve({ ok: false, code: 'INTERNAL', message: 'the rollback process died; see the daemon log' });
      }
    });
  });
}

export function workerRunner(layout: Layout, stderr: NodeJS.WritableStream): DeployRunner {
  const env = workerEnv(layout);
  return (app, event) => {
    const started = Date.now();
    // The delivery id goes to the worker for the release log; ids are not secrets.
    const child = spawn(process.execPath, [workerPath, 'deploy', app, event.id.slice(0, 100)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
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
    const result = new Promise<RunOutcome>((resolve) => {
      child.on('error', (err) => resolve({ status: 'failed', code: 'INTERNAL', message: `could not start the deploy worker: ${err.message}` }));
      child.on('close', (code, signal) => {
        const ms = Date.now() - started;
        let res: any;
        try {
          res = JSON.parse(out.trim().split('\n').pop() ?? '');
        } catch {}
        if (res && typeof res.ok === 'boolean') {
          if (res.ok) return resolve({ status: res.unchanged ? 'unchanged' : 'deployed', release: res.release, version: res.version, ms });
          return resolve({ status: 'failed', release: res.release, version: res.version, code: res.error?.code, message: res.error?.message, ms });
        }
        if (stopped) return resolve({ status: 'abandoned', message: 'stopped by the shutdown; it runs again at the next start', ms });
        resolve({ status: 'failed', code: 'INTERNAL', message: `the deploy worker died (${signal ?? `exit ${code}`}); see the deploy log`, ms });
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
