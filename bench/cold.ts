// Cold deploys only, several builds of toes side by side: `node dist/bench/cold.js [ROOT...]`
// runs, in each round and in rotating order, the native-git script and a cold deploy by
// each build (this checkout first, then every ROOT given: a copy of an older checkout's
// bin/ and dist/) under Bun and under Node, and prints medians of the whole command and of
// each stage. For before/after comparisons on a shared machine, where only runs
// interleaved in one process are comparable. COLD_RUNS (5), COLD_REPO=small|large|both.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startGitServer } from '../test/fixtures/git-server.js';
import { runTimed } from './measure.js';
import { NativeDeployer } from './native.js';
import { buildRepo, gitEnv, REPOS } from './repo.js';
import { fmtMs, median } from './report.js';
import { settle } from './timing.js';
import { binDir, projectRoot, RUNTIMES, type OpJson } from './toes.js';

const runs = Number(process.env.COLD_RUNS ?? 5);
const which = process.env.COLD_REPO ?? 'small';
const roots = [projectRoot, ...process.argv.slice(2).map((r) => path.resolve(r))];
const log = (msg: string) => process.stderr.write(`cold: ${msg}\n`);

interface Side {
  name: string;
  run(dir: string, url: string): Promise<{ ms: number; stages: Record<string, number> }>;
}

function toesSide(root: string, k: number, rt: string, env: NodeJS.ProcessEnv): Side {
  return {
    name: `${k === 0 ? 'new' : `old${roots.length > 2 ? k : ''}`}-${rt}`,
    async run(dir, url) {
      fs.mkdirSync(dir, { recursive: true });
      const s = await runTimed(path.join(root, 'bin/toes'), ['deploy', 'app', '--from', url, '--no-install', '--json'], {
        cwd: dir,
        env: { ...env, DATA_DIR: dir, TOES_RUNTIME: rt },
      });
      const json = JSON.parse(s.stdout) as OpJson;
      if (!json.ok || json.status !== 'live') throw new Error(`${root} ${rt}: ${json.error?.message ?? s.stderr}`);
      return { ms: s.ms, stages: Object.fromEntries(json.stages.filter((st) => !st.skipped).map((st) => [st.name, st.ms])) };
    },
  };
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'toes-cold-'));
  const home = path.join(tmp, 'home');
  fs.mkdirSync(home);
  const env = { ...gitEnv(home), PATH: `${binDir}:${process.env.PATH}`, TOES_REV_QUIET: '1' };
  const script = NativeDeployer.writeScript(tmp);
  const loadAtStart = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  try {
    for (const { name, spec } of REPOS.filter((_, i) => which === 'both' || (which === 'small') === (i === 0))) {
      const repo = await buildRepo(path.join(tmp, `repo-${spec.seed}`), home, spec);
      const server = await startGitServer(path.dirname(repo.bare));
      const url = server.repoUrl('app.git');
      const sides: Side[] = [
        {
          name: 'script',
          async run(dir, u) {
            const s = await new NativeDeployer(script, dir, u, env).cold();
            return { ms: s.ms, stages: Object.fromEntries(s.stages.map((st) => [st.name, st.ms])) };
          },
        },
        ...roots.flatMap((root, k) => RUNTIMES.map((rt) => toesSide(root, k, rt, env))),
      ];
      const got = new Map(sides.map((s) => [s.name, [] as { ms: number; stages: Record<string, number> }[]]));
      for (let i = 0; i < runs; i++) {
        const line: string[] = [];
        for (let j = 0; j < sides.length; j++) {
          const side = sides[(i + j) % sides.length];
          await settle();
          const r = await side.run(path.join(tmp, `r${i}-${side.name}`), url);
          got.get(side.name)!.push(r);
          line.push(`${side.name} ${Math.round(r.ms)}`);
        }
        log(`${name} round ${i + 1}/${runs}: ${line.join(', ')}`);
        for (const s of sides) fs.rmSync(path.join(tmp, `r${i}-${s.name}`), { recursive: true, force: true });
      }
      await server.close();
      const base = median(got.get('script')!.map((r) => r.ms));
      console.log(`\n${name}: cold deploy, medians of ${runs}`);
      for (const s of sides) {
        const rs = got.get(s.name)!;
        const m = median(rs.map((r) => r.ms));
        const stages = Object.keys(rs[0].stages).map((st) => `${st} ${Math.round(median(rs.map((r) => r.stages[st] ?? 0)))}`);
        console.log(`  ${s.name.padEnd(10)} ${fmtMs(m).padStart(8)} (${(m / base).toFixed(2)}x)  ${stages.join(', ')}`);
      }
    }
    console.log(`\nload average at start ${loadAtStart}, at end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
