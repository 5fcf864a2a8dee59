import fs from 'node:fs';
import path from 'node:path';

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

function stamp(t: Date): string {
  return (
    `${t.getUTCFullYear()}${pad(t.getUTCMonth() + 1)}${pad(t.getUTCDate())}-` +
    `${pad(t.getUTCHours())}${pad(t.getUTCMinutes())}${pad(t.getUTCSeconds())}`
  );
}

/**
 * Toes' release name for `now` (UTC): YYYYMMDD-HHMMSS. When that second is taken (two
 * deploys in one second) the next free second is used, so names keep Toes' exact form.
 */
export function newReleaseId(appDir: string, taken: Set<string>, now: Date): string {
  for (let t = now.getTime(); ; t += 1000) {
    const id = stamp(new Date(t));
    if (!taken.has(id) && !fs.existsSync(path.join(appDir, id))) return id;
  }
}
