// The cost of checking a release against its seal (the `check` stage of a rollback) on the
// bench's 3,000-file repository: two releases, then rollbacks back and forth, each reporting
// its stages; prints the median of the check stage and of the whole rollback per runtime,
// then times the check alone in this process (wall and CPU), which a busy machine blurs less.
// Run: npm run build && node dist/bench/seal.js [rounds]; bun dist/bench/seal.js for Bun's in-process figure.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkSeal } from '../src/activate/seal-record.js';
import { Layout, resolveRoots } from '../src/releases/paths.js';
import { startGitServer } from '../test/fixtures/git-server.js';
import { buildRepo, REPOS } from './repo.js';
import { median } from './report.js';
import { binDir, RUNTIMES, Toes } from './toes.js';

const rounds = Number(process.argv[2] ?? 20);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'toes-rev-seal-bench-'));
try {
  const spec = { ...REPOS[0].spec, commits: 2 };
  const repo = await buildRepo(tmp, tmp, spec);
  const git = await startGitServer(tmp);
  try {
    for (const runtime of RUNTIMES) {
      const toes = new Toes(path.join(tmp, `data-${runtime}`), { PATH: `${binDir}:${process.env.PATH}`, HOME: tmp, REV_RELAY_URL: 'none' }, runtime);
      const first = await toes.cli(['deploy', 'app', '--from', git.repoUrl('app.git'), '--no-install', '--no-predeploy']);
      await repo.changeOneLine();
      const second = await toes.cli(['deploy', 'app', '--no-install', '--no-predeploy']);
      const ids = [first.json.release!, second.json.release!];
      const check: number[] = [];
      const whole: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const r = await toes.cli(['rollback', 'app', ids[i % 2]]);
        check.push(r.json.stages.find((s) => s.name === 'check')!.ms);
        whole.push(r.json.durationMs);
      }
      const files = fs.readdirSync(path.join(toes.appDir('app'), ids[0]), { recursive: true }).length;
      console.log(`seal check on ${runtime}, ${files} entries, medians of ${rounds} rollbacks: check stage ${median(check)} ms (min ${Math.min(...check)}, max ${Math.max(...check)}), whole rollback ${Math.round(median(whole))} ms`);
      const layout = new Layout(resolveRoots({ dataDir: toes.dataDir }));
      const wall: number[] = [];
      const cpu: number[] = [];
      for (let i = 0; i < rounds; i++) {
        const [t0, c0] = [performance.now(), process.cpuUsage()];
        const res = checkSeal(layout, 'app', ids[0], path.join(toes.appDir('app'), ids[0]));
        const c = process.cpuUsage(c0);
        wall.push(performance.now() - t0);
        cpu.push((c.user + c.system) / 1000);
        if (!res.recorded || res.changed.length) throw new Error(`the release is not as sealed: ${JSON.stringify(res)}`);
      }
      const runner = process.versions.bun ? `bun ${process.versions.bun}` : `node ${process.version}`;
      console.log(`  checkSeal alone in this process (${runner}), medians of ${rounds}: ${median(wall).toFixed(1)} ms wall, ${median(cpu).toFixed(1)} ms CPU (load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores)`);
    }
  } finally {
    await git.close();
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
