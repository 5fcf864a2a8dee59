// The small JSON files under the rev state directory (settings, environment, and the state
// other parts keep beside them): read forgivingly, written whole with mode 0600 because the
// environment holds tokens, changed under a lock.
import fs from 'node:fs/promises';
import path from 'node:path';
import { RevError } from '../../errors.js';
import { writeJsonDurable } from '../durable.js';
import { acquireLock } from '../lock.js';

/** One of these files as stored: for settings, what `toes config` wrote, not yet checked or defaulted. */
export type Settings = Record<string, string | number | boolean>;

/**
 * Without a prototype, so that a key is there only when the file has it: `constructor` is
 * not set until it is set, and setting `__proto__` stores it like any other key.
 */
const keys = (v?: object): Settings => Object.assign(Object.create(null) as Settings, v);

export async function readJson(file: string): Promise<Settings> {
  try {
    const v = JSON.parse(await fs.readFile(file, 'utf8'));
    return keys(v && typeof v === 'object' && !Array.isArray(v) ? v : undefined);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return keys();
    if (code) throw new RevError('BAD_CONFIG', `Could not read ${file} (${code}); check DATA_DIR and its permissions.`, { cause: err });
    throw new RevError('BAD_CONFIG', `${file} is not valid JSON; fix or remove it.`, { cause: err });
  }
}

/** Settings and environment files may hold tokens: mode 0600, written whole. */
export async function writeJson(file: string, value: Settings): Promise<void> {
  await writeJsonDurable(file, value, { mode: 0o600 });
}

/** Read, change and write under a lock, so concurrent `toes env set`s never lose a key. */
export async function updateJson(file: string, change: (v: Settings) => void): Promise<Settings> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const lock = await acquireLock(`${file}.lock`, { command: 'settings', waitMs: 15_000 });
  try {
    const v = await readJson(file);
    change(v);
    await writeJson(file, v);
    return v;
  } finally {
    await lock.release();
  }
}
