// The content-addressed blob store. Each file content is kept once, read-only, under its
// git blob id; releases are built from hard links to these files, so an unchanged file
// costs no disk in a new release. Writes go to a temporary name and are renamed into
// place, so a killed process leaves at most a stray temporary file, never a torn blob.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { translateSystemError } from '../errors.js';

/**
 * Every blob, and every build copy made from one, carries this mtime. A file in a staging
 * tree that still has it after the build was not written by the build (see relink).
 */
export const BLOB_MTIME = new Date('2000-01-01T00:00:00Z');

export function gitBlobId(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

export class BlobStore {
  constructor(readonly root: string) {}

  pathOf(oid: string, exec: boolean): string {
    return path.join(this.root, oid.slice(0, 2), exec ? `${oid.slice(2)}.x` : oid.slice(2));
  }

  async has(oid: string, exec: boolean): Promise<boolean> {
    try {
      await fs.access(this.pathOf(oid, exec));
      return true;
    } catch {
      return false;
    }
  }

  /** Stores `content` (already known to hash to `oid`) unless present. */
  async put(oid: string, exec: boolean, content: Buffer): Promise<void> {
    const dest = this.pathOf(oid, exec);
    const tmp = `${dest}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      await fs.mkdir(path.dirname(dest), { recursive: true });
      await fs.writeFile(tmp, content, { mode: exec ? 0o555 : 0o444 });
      await fs.utimes(tmp, BLOB_MTIME, BLOB_MTIME);
      await fs.rename(tmp, dest);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw translateSystemError(err, 'storing file contents');
    }
  }

  /** Moves (or copies) a file that is not shared with anything into the store. */
  async adopt(oid: string, exec: boolean, file: string): Promise<void> {
    const dest = this.pathOf(oid, exec);
    try {
      await fs.mkdir(path.dirname(dest), { recursive: true });
      await fs.chmod(file, exec ? 0o555 : 0o444);
      await fs.utimes(file, BLOB_MTIME, BLOB_MTIME);
      await fs.rename(file, dest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EXDEV') return this.put(oid, exec, await fs.readFile(file));
      throw translateSystemError(err, 'storing file contents');
    }
  }
}
