// The content-addressed blob store. Each file content is kept once, read-only, under its
// git blob id; releases are built from hard links to these files, so an unchanged file
// costs no disk in a new release. Writes go to a temporary name and are renamed into
// place, so a killed process leaves at most a stray temporary file, never a torn blob.
import fsc, { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { RevError, translateSystemError } from '../errors.js';
import { createHash, randomHex } from './hash.js';

export function gitBlobId(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

let tmpSeq = 0;
const tmpTag = `${process.pid.toString(36)}-${randomHex(3)}`;

/** A stored content as the sweep sees it. */
export interface BlobFile {
  /** `<id>` or `<id>.x`. */
  name: string;
  size: number;
  /** Hard links to it: 1 means no release links it (when releases are links). */
  nlink: number;
}

const BLOB_NAME = /^[0-9a-f]{40}(\.x)?$/;

/**
 * One flat directory: a single readdir tells which contents are present, far cheaper than
 * a stat per file (ext4 and APFS index large directories).
 */
export class BlobStore {
  private listing?: Promise<Set<string>>;
  private made?: Promise<unknown>;

  constructor(readonly root: string) {}

  nameOf(oid: string, exec: boolean): string {
    return exec ? `${oid}.x` : oid;
  }

  pathOf(oid: string, exec: boolean): string {
    return path.join(this.root, this.nameOf(oid, exec));
  }

  private names(): Promise<Set<string>> {
    this.listing ??= fs.readdir(this.root).then(
      (n) => new Set(n),
      () => new Set<string>(),
    );
    return this.listing;
  }

  /** Of `entries`, those whose content the store lacks (under their mode). */
  async lacking<T extends { oid: string; kind: string }>(entries: T[]): Promise<T[]> {
    const names = await this.names();
    return entries.filter((e) => !names.has(this.nameOf(e.oid, e.kind === 'exec')));
  }

  async has(oid: string, exec: boolean): Promise<boolean> {
    // A listing can only miss blobs added since (then a redundant put, which is harmless).
    return (await this.names()).has(this.nameOf(oid, exec));
  }

  async read(oid: string, exec: boolean): Promise<Buffer | undefined> {
    try {
      return await fs.readFile(this.pathOf(oid, exec));
    } catch {
      return undefined;
    }
  }

  private ensureRoot(): Promise<unknown> {
    this.made ??= fs.mkdir(this.root, { recursive: true });
    return this.made;
  }

  /**
   * What the store holds: every content with its size and link count, and the temporary
   * files writers left (a writer killed between write and rename). Reads the disk afresh.
   */
  async scan(): Promise<{ blobs: BlobFile[]; temps: string[] }> {
    const names = await fs.readdir(this.root).catch(() => [] as string[]);
    const blobs: BlobFile[] = [];
    const temps = names.filter((n) => n.includes('.tmp-'));
    // Synchronous on purpose: a tight loop of lstat(2) runs about twice as fast as the
    // thread pool here, and this is all the process does meanwhile.
    for (const name of names) {
      if (!BLOB_NAME.test(name)) continue;
      const st = fsc.lstatSync(path.join(this.root, name), { throwIfNoEntry: false });
      if (st?.isFile()) blobs.push({ name, size: st.size, nlink: st.nlink });
    }
    return { blobs, temps };
  }

  /** The link count of a stored name now (0 when it is gone). */
  async links(name: string): Promise<number> {
    return (await fs.lstat(path.join(this.root, name)).catch(() => null))?.nlink ?? 0;
  }

  /** Deletes a stored name (or a temporary file); gone already is fine. */
  async remove(name: string): Promise<void> {
    await fs.rm(path.join(this.root, name), { force: true });
    this.listing = undefined;
  }

  /** Stores `content` (already known to hash to `oid`) unless present. */
  async put(oid: string, exec: boolean, content: Buffer): Promise<void> {
    const dest = this.pathOf(oid, exec);
    const tmp = `${dest}.tmp-${tmpTag}-${tmpSeq++}`;
    try {
      await this.ensureRoot();
      await fs.writeFile(tmp, content, { mode: exec ? 0o555 : 0o444 });
      await fs.rename(tmp, dest);
      (await this.names()).add(this.nameOf(oid, exec));
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw translateSystemError(err, 'storing file contents');
    }
  }

  /**
   * Moves (or copies) a file that is not shared with anything into the store. `readOnly`:
   * the file was created with mode 0444 already, so a plain content needs no chmod.
   */
  async adopt(oid: string, exec: boolean, file: string, readOnly = false): Promise<void> {
    const dest = this.pathOf(oid, exec);
    try {
      await this.ensureRoot();
      if (exec || !readOnly) await fs.chmod(file, exec ? 0o555 : 0o444);
      await fs.rename(file, dest);
      (await this.names()).add(this.nameOf(oid, exec));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EXDEV') return this.copyIn(oid, exec, file);
      throw translateSystemError(err, 'storing file contents');
    }
  }

  /**
   * Takes a file into the store and returns its blob id, reading it once as a stream (never
   * whole): moved when it is a scratch file (`move`), else copied while it is hashed, so
   * what is stored is exactly what was hashed even if the file changes meanwhile.
   */
  async ingest(file: string, exec: boolean, move: boolean): Promise<string> {
    await this.ensureRoot();
    const tmp = path.join(this.root, `.in.tmp-${tmpTag}-${tmpSeq++}`);
    try {
      const { size } = await fs.stat(file);
      const hash = createHash('sha1');
      let seen = 0;
      const out = move ? undefined : await fs.open(tmp, 'w', exec ? 0o555 : 0o444);
      try {
        for await (const chunk of createReadStream(file, { highWaterMark: 256 * 1024 })) {
          if (seen === 0) hash.update(`blob ${size}\0`);
          seen += chunk.length;
          hash.update(chunk);
          await out?.write(chunk);
        }
      } finally {
        await out?.close();
      }
      if (seen === 0) hash.update(`blob 0\0`);
      if (seen !== size) {
        throw new RevError('SOURCE_CHANGED', `The file ${file} changed while it was being read; deploy again once it stops changing.`, { data: { file } });
      }
      const oid = hash.digest('hex');
      if (await this.has(oid, exec)) return oid;
      if (move) await this.adopt(oid, exec, file);
      else {
        await fs.rename(tmp, this.pathOf(oid, exec));
        (await this.names()).add(this.nameOf(oid, exec));
      }
      return oid;
    } catch (err) {
      throw translateSystemError(err, 'storing file contents');
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  /**
   * Links `file` (already known to hash to `oid`, read-only with the mode the store gives
   * it) into the store, so the file and the stored blob are one. False when the store has
   * the content already or `file` is on another disk (then it is copied in): `file` is not
   * the stored one.
   */
  async linkIn(oid: string, exec: boolean, file: string): Promise<boolean> {
    await this.ensureRoot();
    const names = await this.names();
    try {
      // Synchronous, like materialize's links: thousands of them in a tight loop.
      fsc.linkSync(file, this.pathOf(oid, exec));
      names.add(this.nameOf(oid, exec));
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (code === 'EXDEV' || code === 'EMLINK' || code === 'EPERM') {
        await this.copyIn(oid, exec, file);
        return false;
      }
      throw translateSystemError(err, 'storing file contents');
    }
  }

  /** Copies `file` (already known to hash to `oid`) into the store, without reading it into memory. */
  async copyIn(oid: string, exec: boolean, file: string): Promise<void> {
    const dest = this.pathOf(oid, exec);
    const tmp = `${dest}.tmp-${tmpTag}-${tmpSeq++}`;
    try {
      await this.ensureRoot();
      await fs.copyFile(file, tmp);
      await fs.chmod(tmp, exec ? 0o555 : 0o444);
      await fs.rename(tmp, dest);
      (await this.names()).add(this.nameOf(oid, exec));
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw translateSystemError(err, 'storing file contents');
    }
  }
}
