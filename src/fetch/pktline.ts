// git's pkt-line framing: four hex digits of length (including themselves), then data;
// "0000" is a flush. Used by the smart-HTTP client in smart-http.ts.

export function pkt(line: string): Buffer {
  const body = Buffer.from(line);
  return Buffer.concat([Buffer.from((body.length + 4).toString(16).padStart(4, '0')), body]);
}

export const FLUSH = Buffer.from('0000');

/** A frame that breaks the pkt-line rules: the answer was cut off or garbled. */
export class PktLineError extends Error {
  override name = 'PktLineError';
}

export function text(line: Buffer): string {
  return line.toString('utf8').replace(/\n$/, '');
}

/**
 * Splits pkt-lines as the bytes arrive, holding at most one frame (64 KiB) back: for an
 * answer too large to buffer whole, such as a pack.
 */
export class PktSplitter {
  private rest: Buffer = Buffer.alloc(0);

  /** The complete frames in `chunk` (with what was left from before); `null` marks a flush. */
  *push(chunk: Buffer): Generator<Buffer | null> {
    let buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    let i = 0;
    for (;;) {
      if (i + 4 > buf.length) break;
      const len = parseInt(buf.toString('latin1', i, i + 4), 16);
      if (Number.isNaN(len)) throw new PktLineError('bad pkt-line length');
      if (len === 0 || len === 1 || len === 2) {
        yield null;
        i += 4;
        continue;
      }
      if (len < 4) throw new PktLineError('bad pkt-line length');
      if (i + len > buf.length) break;
      yield buf.subarray(i + 4, i + len);
      i += len;
    }
    // A view, not a copy: the chunks are not reused by their producer.
    this.rest = buf.subarray(i);
  }

  /** Throws unless the answer ended on a frame boundary. */
  end(): void {
    if (this.rest.length) throw new PktLineError('truncated pkt-line');
  }
}
