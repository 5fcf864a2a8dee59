// Activation timings with the Toes-like supervisor fixture and a small Bun web app:
// the supervisor's own restart (POST restart route, then poll GET /ok), beside the verify
// stage of a deploy (restart + health wait after the swap) and a whole `toes rollback`.
import fs from 'node:fs';
import path from 'node:path';
import { answer, freePort, startSupervisor, webApp } from '../test/fixtures/apps.js';
import { startGitServer } from '../test/fixtures/git-server.js';
import { makeRepo } from '../test/fixtures/repo.js';
import { runTimed } from './measure.js';
import { median } from './report.js';
import { launcher, type Runtime } from './toes.js';

export interface ActivationResults {
  runtime: Runtime;
  bareRestartMs: number[];
  verifyMs: number[];
  rollbackMs: number[];
}

async function untilVersion(port: number, version: string, t0: number): Promise<number> {
  for (;;) {
    if ((await answer(port)) === version) return performance.now() - t0;
    if (performance.now() - t0 > 15_000) throw new Error(`the app never answered ${version}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function activationRounds(tmp: string, env: NodeJS.ProcessEnv, runs: number, runtime: Runtime): Promise<ActivationResults> {
  const root = path.join(tmp, `activation-${runtime}`);
  fs.mkdirSync(root, { recursive: true });
  const repo = makeRepo(root, 'web.git', webApp('v1'));
  const git = await startGitServer(root);
  const data = path.join(root, 'data');
  const port = await freePort();
  const sup = await startSupervisor(path.join(data, 'apps'), { web: port });
  const toesEnv = { ...env, DATA_DIR: data, TOES_URL: sup.url, TOES_RUNTIME: runtime };
  const toes = (args: string[]) => runTimed(launcher, [...args, '--json'], { cwd: root, env: toesEnv });
  const r: ActivationResults = { runtime, bareRestartMs: [], verifyMs: [], rollbackMs: [] };
  try {
    // health.interval stays at its default: what a user gets.
    await toes(['config', 'set', 'web', 'health.url', `http://127.0.0.1:${port}/ok`]);
    const first = await toes(['deploy', 'web', '--from', git.repoUrl('web.git')]);
    if (first.code !== 0) throw new Error(`activation bench: first deploy failed: ${first.stderr}`);
    repo.commit(webApp('v2'));
    const second = await toes(['deploy', 'web']);
    if (second.code !== 0) throw new Error(`activation bench: second deploy failed: ${second.stderr}`);
    const releases = [JSON.parse(first.stdout).release, JSON.parse(second.stdout).release];
    for (let i = 0; i < runs; i++) {
      // The supervisor's own restart of the live release (v2): the floor toes-rev adds to.
      const t0 = performance.now();
      await fetch(`${sup.url}/api/apps/web/restart`, { method: 'POST' });
      for (;;) {
        const res = await fetch(`http://127.0.0.1:${port}/ok`).catch(() => undefined);
        if (res?.ok) break;
        await new Promise((res2) => setTimeout(res2, 5));
      }
      r.bareRestartMs.push(performance.now() - t0);
      // A whole rollback to v1 (restart and health included), then forward again.
      const back = await toes(['rollback', 'web', releases[0]]);
      if (back.code !== 0) throw new Error(`activation bench: rollback failed: ${back.stderr}`);
      r.rollbackMs.push(back.ms);
      await untilVersion(port, 'v1', performance.now());
      const fwd = await toes(['rollback', 'web', releases[1]]);
      const verify = (JSON.parse(fwd.stdout).stages as { name: string; ms: number }[]).find((s) => s.name === 'verify');
      if (verify) r.verifyMs.push(verify.ms);
    }
    return r;
  } finally {
    await sup.stop();
    await git.close();
  }
}

export function activationSummary(a: ActivationResults): string {
  const f = (xs: number[]) => `${Math.round(median(xs))} ms`;
  const added = median(a.rollbackMs) - median(a.bareRestartMs);
  const overVerify = median(a.verifyMs) - median(a.bareRestartMs);
  return [
    `activation on ${a.runtime} (Toes-like supervisor, small Bun app), medians of ${a.bareRestartMs.length}:`,
    `  supervisor's own restart until GET /ok answers   ${f(a.bareRestartMs)}`,
    `  swap end -> first 2xx (verify stage)              ${f(a.verifyMs)}   over the supervisor's own restart: ${Math.round(overVerify)} ms (target <= 50 ms: ${overVerify <= 50 ? 'PASS' : 'MISS'})`,
    `  whole \`toes rollback\` (restart + health)          ${f(a.rollbackMs)}   added by toes-rev: ${Math.round(added)} ms (target <= 60 ms: ${added <= 60 ? 'PASS' : 'MISS'})`,
  ].join('\n');
}
