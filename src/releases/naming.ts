import fs from 'node:fs';
import path from 'node:path';

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** Toes' release name for `now` (UTC): YYYYMMDD-HHMMSS, with -2, -3… when taken. */
export function newReleaseId(appDir: string, taken: Set<string>, now: Date): string {
  const base =
    `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}-` +
    `${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`;
  let id = base;
  for (let n = 2; taken.has(id) || fs.existsSync(path.join(appDir, id)); n++) id = `${base}-${n}`;
  return id;
}
