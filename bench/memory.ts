// Peak memory of a cold deploy against the size of the snapshot (issue: memory bounded by
// design). Repositories of incompressible assets (the worst case for a pack: nothing
// shrinks) of several sizes, served over smart HTTP, deployed with --no-install; the
// process's own VmHWM is read from /proc.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startGitServer } from '../test/fixtures/git-server.js';
import { git } from '../test/fixtures/repo.js';
import { Toes } from './toes.js';

export interface MemoryPoint {
  snapshotMb: number;
  files: number;
  peakMb: number;
  ms: number;
}

/** A bare repository at `root/<name>` holding `mb` MB of random assets in 4 MB files. */
function assetRepo(root: string, name: string, mb: number): { files: number } {
  const work = path.join(root, `${name}-work`);
  const bare = path.join(root, `${name}.git`);
  fs.mkdirSync(path.join(work, 'assets'), { recursive: true });
  fs.writeFileSync(path.join(work, 'package.json'), JSON.stringify({ name, version: '1.0.0' }));
  const fileMb = 4;
  const files = Math.ceil(mb / fileMb);
  for (let i = 0; i < files; i++) fs.writeFileSync(path.join(work, 'assets', `a${i}.bin`), crypto.randomBytes(fileMb * 1024 * 1024));
  git(work, 'init', '-q', '-b', 'main');
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', 'assets');
  git(root, 'clone', '-q', '--bare', work, bare);
  fs.rmSync(work, { recursive: true, force: true });
  return { files: files + 1 };
}

export async function memoryRounds(sizesMb: number[], env: NodeJS.ProcessEnv, log: (m: string) => void): Promise<MemoryPoint[]> {
  const root = fs.mkdtempSync(path.join(process.env.BENCH_TMP ?? '/tmp', 'toes-bench-mem-'));
  const server = await startGitServer(root);
  try {
    const out: MemoryPoint[] = [];
    for (const mb of sizesMb) {
      log(`memory: building a ${mb} MB repository of incompressible assets`);
      const { files } = assetRepo(root, `assets${mb}`, mb);
      const toes = new Toes(path.join(root, `data${mb}`), env);
      const s = await toes.cli(['deploy', `assets${mb}`, '--from', server.repoUrl(`assets${mb}.git`), '--no-install']);
      out.push({ snapshotMb: mb, files, peakMb: Math.round((s.peakKb ?? 0) / 1024), ms: Math.round(s.ms) });
      log(`memory: ${mb} MB snapshot: peak ${out.at(-1)!.peakMb} MB in ${out.at(-1)!.ms} ms`);
      fs.rmSync(path.join(root, `data${mb}`), { recursive: true, force: true });
      fs.rmSync(path.join(root, `assets${mb}.git`), { recursive: true, force: true });
    }
    return out;
  } finally {
    await server.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

// Run alone: `node dist/bench/memory.js [MB ...]`.
if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  const points = await memoryRounds(sizes.length ? sizes : [20, 200, 500], { ...process.env, TOES_REV_QUIET: '1' }, (m) => process.stderr.write(`bench: ${m}\n`));
  for (const p of points) console.log(`${String(p.snapshotMb).padStart(5)} MB snapshot (${p.files} files): peak RSS ${p.peakMb} MB, ${p.ms} ms`);
}
