// Disk cost of history: one release, then a chain of one-file-change releases. toes
// should pay for the changed file, not for a copy of the app per release.
import fs from 'node:fs';
import path from 'node:path';
import { NativeDeployer } from './native.js';
import { duKb } from './measure.js';
import { Toes } from './toes.js';
import { APP, type Ctx } from './timing.js';

export interface DiskSide {
  /** du -sk of the app directory with one release, and with all of them. */
  oneKb: number;
  allKb: number;
  storeOneKb: number;
  storeAllKb: number;
  /** App directory and store in one du, so blobs hardlinked into releases count once. */
  totalAllKb: number;
}

export interface DiskResults {
  releases: number;
  toes: DiskSide;
  script: DiskSide;
  /** Node's own peak while deploying each one-file change (extra memory samples). */
  incrPeakKb: number[];
}

export async function diskChain(c: Ctx, releases: number): Promise<DiskResults> {
  const dir = path.join(c.tmp, 'disk');
  const toes = new Toes(path.join(dir, 'toes'), c.env);
  const native = new NativeDeployer(c.script, path.join(dir, 'script'), c.url, c.env);
  // Retention would otherwise delete releases beyond the default 5 while we count them.
  await toes.cli(['config', 'set', '-g', 'keep', String(releases + 5)]);
  const incrPeakKb: number[] = [];

  await toes.cli(['deploy', APP, '--from', c.url]);
  await native.cold();
  const t1 = await sizes(toes.appDir(APP), toes.storeDir);
  const s1 = await sizes(native.appDir, native.store);
  for (let i = 2; i <= releases; i++) {
    await c.repo.changeOneLine();
    const x = await toes.cli(['deploy', APP]);
    if (x.peakKb) incrPeakKb.push(x.peakKb);
    await native.incremental();
  }
  const kept = fs.readdirSync(toes.appDir(APP)).filter((n) => /^\d{8}-\d{6}(-\d+)?$/.test(n)).length;
  if (kept !== releases) throw new Error(`expected ${releases} toes releases on disk, found ${kept}`);
  const tN = await sizes(toes.appDir(APP), toes.storeDir);
  const sN = await sizes(native.appDir, native.store);
  const side = (one: typeof t1, all: typeof t1): DiskSide => ({ oneKb: one.app, allKb: all.app, storeOneKb: one.store, storeAllKb: all.store, totalAllKb: all.total });
  return { releases, toes: side(t1, tN), script: side(s1, sN), incrPeakKb };
}

async function sizes(app: string, store: string): Promise<{ app: number; store: number; total: number }> {
  return { app: await duKb([app]), store: await duKb([store]), total: await duKb([app, store]) };
}
