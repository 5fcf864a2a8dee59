// The toes CLI as a user runs it: bin/toes, a fresh process per command, timed from spawn
// to exit, on the runtime TOES_RUNTIME names.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTimed, type Sample } from './measure.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const projectRoot = path.resolve(here, '../..');
export const launcher = path.join(projectRoot, 'bin/toes');
export const binDir = path.join(projectRoot, 'node_modules/.bin');

export type Runtime = 'bun' | 'node';
export const RUNTIMES: Runtime[] = ['bun', 'node'];

export interface StageTiming {
  name: string;
  ms: number;
  skipped?: boolean;
}

/** The fields of `--json` output the bench reads. */
export interface OpJson {
  ok: boolean;
  status: string;
  release?: string;
  commit?: string;
  bytesFetched?: number;
  durationMs: number;
  stages: StageTiming[];
  error?: { code: string; message: string };
}

export interface ToesSample extends Sample {
  json: OpJson;
}

export class Toes {
  readonly appsDir: string;
  readonly storeDir: string;

  constructor(
    readonly dataDir: string,
    private readonly env: NodeJS.ProcessEnv,
    readonly runtime: Runtime = 'bun',
  ) {
    fs.mkdirSync(dataDir, { recursive: true });
    this.appsDir = path.join(dataDir, 'apps');
    this.storeDir = path.join(dataDir, 'rev', 'store');
  }

  appDir(app: string): string {
    return path.join(this.appsDir, app);
  }

  async cli(args: string[]): Promise<ToesSample> {
    const s = await runTimed(launcher, [...args, '--json'], {
      cwd: this.dataDir,
      env: { ...this.env, DATA_DIR: this.dataDir, TOES_RUNTIME: this.runtime },
      peak: true,
    });
    let json: OpJson;
    try {
      json = JSON.parse(s.stdout) as OpJson;
    } catch {
      throw new Error(`toes ${args.join(' ')} printed no JSON (exit ${s.code}): ${s.stderr.trim()}`);
    }
    if (s.code !== 0 || !json.ok) throw new Error(`toes ${args.join(' ')} failed (exit ${s.code}): ${json.error?.message ?? s.stderr.trim()}`);
    return { ...s, json };
  }
}
