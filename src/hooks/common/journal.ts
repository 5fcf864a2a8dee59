// An append-only JSON-lines journal whose appends resolve only once they are on disk.
// Appends that arrive while a write is in flight are gathered into the next write, so one
// fdatasync covers a whole batch: a burst of webhooks costs a few syncs, not one each.
import fs from 'node:fs/promises';
import path from 'node:path';
import { fsyncDir } from '../../releases/durable.js';

/** Where a record sits in the journal file, to read it back without keeping it in memory. */
export interface Pos {
  offset: number;
  length: number;
}

const NEWLINE = Buffer.from('\n');

export class Journal<T> {
  private fh?: fs.FileHandle;
  private queue: { line: Buffer; done: (p: Pos) => void; fail: (e: unknown) => void }[] = [];
  private writing = false;
  private closed = false;
  /** Bytes known to be whole records; a failed write is cut back to this. */
  private size = 0;

  private constructor(readonly file: string) {}

  /**
   * Opens the journal and returns the records it holds; a torn last line is dropped. With
   * `each`, records are handed over one at a time instead and none is kept: the file is read
   * a piece at a time, so opening costs its longest line in memory, not its size.
   */
  static async open<T>(file: string, each?: (record: T, pos: Pos) => void): Promise<{ journal: Journal<T>; records: T[]; positions: Pos[] }> {
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await fs.rm(`${file}.compact`, { force: true }); // a rewrite cut short by a crash
    const records: T[] = [];
    const positions: Pos[] = [];
    const j = new Journal<T>(file);
    // 'a+' makes a missing file an empty journal; any read error below throws before the
    // truncation, so it never cuts a journal it could not read.
    j.fh = await fs.open(file, 'a+', 0o600);
    const take = (line: Buffer, offset: number) => {
      if (!line.length) return;
      let r: T;
      try {
        r = JSON.parse(line.toString('utf8'));
      } catch {
        return; // a damaged line stands alone (writes end with a newline): skip it, keep the rest
      }
      const pos = { offset, length: line.length };
      if (each) return each(r, pos);
      records.push(r);
      positions.push(pos);
    };
    const buf = Buffer.allocUnsafe(1024 * 1024);
    let partial: Buffer[] = [];
    let lineAt = 0;
    for (let readAt = 0; ; ) {
      const { bytesRead } = await j.fh.read(buf, 0, buf.length, readAt);
      if (!bytesRead) break;
      readAt += bytesRead;
      const got = buf.subarray(0, bytesRead);
      for (let from = 0; ; ) {
        const nl = got.indexOf(10, from);
        if (nl === -1) {
          partial.push(Buffer.from(got.subarray(from))); // copied: the buffer is read into again
          break;
        }
        const line = partial.length ? Buffer.concat([...partial, got.subarray(from, nl)]) : got.subarray(from, nl);
        partial = [];
        take(line, lineAt);
        lineAt += line.length + 1;
        from = nl + 1;
      }
    }
    j.size = lineAt;
    const { size } = await j.fh.stat();
    // Cut a torn tail (no newline yet) so the next append starts on a clean line.
    if (size > j.size) await j.fh.truncate(j.size);
    return { journal: j, records, positions };
  }

  /** Resolves, with the record's place, once it is on disk. */
  append(record: T): Promise<Pos> {
    return this.appendLine(Buffer.from(JSON.stringify(record) + '\n'));
  }

  /** The same for a record already serialized: one JSON line of T, ending with a newline. */
  appendLine(line: Buffer): Promise<Pos> {
    if (this.closed) return Promise.reject(Object.assign(new Error('the journal is closed'), { code: 'ECLOSED' }));
    return new Promise((done, fail) => {
      this.queue.push({ line, done, fail });
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0);
        // Written as they are (no joined copy): a line may hold a 1 MiB webhook.
        const bytes = batch.reduce((n, b) => n + b.line.length, 0);
        try {
          const { bytesWritten } = await this.fh!.writev(batch.map((b) => b.line));
          if (bytesWritten !== bytes) throw Object.assign(new Error(`short write (${bytesWritten} of ${bytes} bytes)`), { code: 'EIO' });
          await this.fh!.datasync();
          let offset = this.size;
          this.size += bytes;
          for (const b of batch) {
            const length = b.line.length - 1;
            b.done({ offset, length });
            offset += length + 1;
          }
        } catch (err) {
          // A full disk may have taken part of the batch: cut it off, or the next append
          // would follow half a line. Those events were not accepted.
          await this.fh?.truncate(this.size).catch(() => {});
          for (const b of batch) b.fail(err);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  /**
   * Replaces the journal's contents with `snapshot()`, taken once no write is in flight;
   * appends made meanwhile wait and land after it. A `{ raw }` entry is a record of the
   * current file copied as it is, a piece at a time, so a rewrite never holds every record
   * in memory. The new file is synced before it replaces the old one, so a crash leaves
   * one or the other.
   */
  async rewrite(snapshot: () => (T | { raw: Pos })[] | Promise<(T | { raw: Pos })[]>): Promise<Pos[]> {
    while (this.writing) await new Promise((r) => setTimeout(r, 1));
    this.writing = true;
    try {
      const tmp = `${this.file}.compact`;
      const positions: Pos[] = [];
      try {
        const fh = await fs.open(tmp, 'w', 0o600);
        try {
          // One buffer, filled and written again and again: a rewrite of a large journal
          // makes no garbage, however large its records.
          const buf = Buffer.allocUnsafe(1024 * 1024);
          let used = 0;
          let offset = 0;
          const flushBuf = async () => {
            if (used) await fh.write(buf, 0, used);
            used = 0;
          };
          const copy = async (from: Pos) => {
            for (let done = 0; done < from.length; ) {
              if (used === buf.length) await flushBuf();
              const n = Math.min(buf.length - used, from.length - done);
              await this.fh!.read(buf, used, n, from.offset + done);
              used += n;
              done += n;
            }
          };
          const put = async (data: Buffer) => {
            for (let done = 0; done < data.length; ) {
              if (used === buf.length) await flushBuf();
              const n = data.copy(buf, used, done);
              used += n;
              done += n;
            }
          };
          for (const r of await snapshot()) {
            let length: number;
            if (r && typeof r === 'object' && 'raw' in r) {
              await copy(r.raw);
              length = r.raw.length;
            } else {
              const line = Buffer.from(JSON.stringify(r));
              await put(line);
              length = line.length;
            }
            await put(NEWLINE);
            positions.push({ offset, length });
            offset += length + 1;
          }
          await flushBuf();
          await fh.sync();
        } finally {
          await fh.close();
        }
      } catch (err) {
        await fs.rm(tmp, { force: true });
        throw err;
      }
      await fs.rename(tmp, this.file);
      await fsyncDir(path.dirname(this.file));
      await this.fh?.close();
      this.fh = await fs.open(this.file, 'a+', 0o600);
      this.size = (await this.fh.stat()).size;
      return positions;
    } finally {
      this.writing = false;
      void this.flush();
    }
  }

  /** Reads back one record appended earlier. */
  async read(pos: Pos): Promise<T> {
    const buf = Buffer.alloc(pos.length);
    await this.fh!.read(buf, 0, pos.length, pos.offset);
    return JSON.parse(buf.toString('utf8'));
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.writing || this.queue.length) await new Promise((r) => setTimeout(r, 1));
    await this.fh?.close();
    this.fh = undefined;
  }
}
