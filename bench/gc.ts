// Disk given back (issue 12): a 5 MB incompressible asset changes on each of 8 deploys.
// DATA_DIR is compared with what the kept releases need at rest (their directories in one
// `du -sk`, hard links counted once), after the last deploy (which collects after its own
// prune) and again after `toes gc`. Also the wall time a deploy spends outside its stages
// (start-up, the collection after a prune, exit), since the collection delays the exit.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startGitServer } from '../test/fixtures/git-server.js';
import { git } from '../test/fixtures/repo.js';
import { collectorDone } from '../test/fixtures/world.js';
import { duKb } from './measure.js';
import { Toes } from './toes.js';

export interface GcPoint {
  keep: number;
  deploys: number;
  /** du -sk of the kept releases alone, of DATA_DIR after the last deploy, and after `toes gc`. */
  keptKb: number;
  dataKb: number;
  afterGcKb: number;
  ratio: number;
  ratioAfterGc: number;
  /** Wall time outside the stages (start-up, the collection after a prune, exit), for the
   * deploys that pruned and for those that did not (ms). */
  afterStagesMs: { pruning: number[]; other: number[] };
}

const ASSET_MB = 5;

export async function gcRounds(keep: number, deploys: number, env: NodeJS.ProcessEnv, log: (m: string) => void): Promise<GcPoint> {
  const root = fs.mkdtempSync(path.join(process.env.BENCH_TMP ?? '/tmp', 'toes-bench-gc-'));
  const server = await startGitServer(root);
  try {
    const work = path.join(root, 'work');
    fs.mkdirSync(work);
    const commit = (i: number) => {
      fs.writeFileSync(path.join(work, 'package.json'), JSON.stringify({ name: 'gcbench', version: `1.0.${i}` }));
      fs.writeFileSync(path.join(work, 'asset.bin'), crypto.randomBytes(ASSET_MB * 1024 * 1024));
      git(work, 'add', '-A');
      git(work, 'commit', '-q', '-m', `asset ${i}`);
      git(work, 'push', '-q', '--force', path.join(root, 'gcbench.git'), 'HEAD:main');
    };
    git(work, 'init', '-q', '-b', 'main');
    git(root, 'init', '-q', '--bare', '-b', 'main', 'gcbench.git');
    const toes = new Toes(path.join(root, 'data'), env);
    await toes.cli(['config', 'set', 'gcbench', 'keep', String(keep)]).catch(() => undefined);
    const afterStagesMs = { pruning: [] as number[], other: [] as number[] };
    for (let i = 1; i <= deploys; i++) {
      commit(i);
      const s = await toes.cli(['deploy', 'gcbench', '--no-install', ...(i === 1 ? ['--from', server.repoUrl('gcbench.git')] : [])]);
      const pruned = !!(s.json as { pruned?: string[] }).pruned?.length;
      afterStagesMs[pruned ? 'pruning' : 'other'].push(Math.round(s.ms - s.json.durationMs));
    }
    // At rest: the last deploy's collection runs after it returned, in a process of its own.
    await collectorDone(path.join(toes.dataDir, 'rev', 'apps', 'gcbench', 'collecting.json'), 60_000);
    const appDir = toes.appDir('gcbench');
    const kept = fs.readdirSync(appDir).filter((n) => /^\d{8}-\d{6}(-\d+)?$/.test(n)).map((n) => path.join(appDir, n));
    const keptKb = await duKb(kept);
    const dataKb = await duKb([toes.dataDir]);
    await toes.cli(['gc']);
    const afterGcKb = await duKb([toes.dataDir]);
    const point = { keep, deploys, keptKb, dataKb, afterGcKb, ratio: dataKb / keptKb, ratioAfterGc: afterGcKb / keptKb, afterStagesMs };
    log(`gc: keep ${keep}, ${deploys} deploys of a changing ${ASSET_MB} MB asset: kept releases ${keptKb} KB, DATA_DIR ${dataKb} KB (${point.ratio.toFixed(3)}x), after toes gc ${afterGcKb} KB (${point.ratioAfterGc.toFixed(3)}x)`);
    return point;
  } finally {
    await server.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

// Run alone: `node dist/bench/gc.js [KEEP ...]` (default: keep 2 and keep 1).
if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const keeps = process.argv.slice(2).map(Number).filter((n) => n > 0);
  for (const keep of keeps.length ? keeps : [2, 1]) {
    const p = await gcRounds(keep, 8, { ...process.env, TOES_REV_QUIET: '1' }, (m) => process.stderr.write(`bench: ${m}\n`));
    console.log(`keep ${p.keep}: DATA_DIR ${p.ratio.toFixed(3)}x the kept releases after ${p.deploys} deploys (target <= 1.25x), ${p.ratioAfterGc.toFixed(3)}x after toes gc (target <= 1.05x); outside the stages: ${p.afterStagesMs.pruning.join(', ')} ms when pruning, ${p.afterStagesMs.other.join(', ')} ms otherwise`);
  }
}

