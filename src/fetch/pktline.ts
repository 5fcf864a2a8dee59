// git's pkt-line framing: four hex digits of length (including themselves), then data;
// "0000" is a flush. Used by the smart-HTTP client in smart-http.ts.

export function pkt(line: string): Buffer {
  const body = Buffer.from(line);
  return Buffer.concat([Buffer.from((body.length + 4).toString(16).padStart(4, '0')), body]);
}

export const FLUSH = Buffer.from('0000');

/** Splits a buffer of pkt-lines; `null` marks a flush. Throws on a malformed frame. */
export function* readPkts(buf: Buffer): Generator<Buffer | null> {
  let i = 0;
  while (i < buf.length) {
    if (i + 4 > buf.length) throw new Error('truncated pkt-line header');
    const len = parseInt(buf.toString('latin1', i, i + 4), 16);
    if (Number.isNaN(len)) throw new Error('bad pkt-line length');
    if (len === 0 || len === 1 || len === 2) {
      // flush, delim and response-end: all separators here
      yield null;
      i += 4;
      continue;
    }
    if (len < 4 || i + len > buf.length) throw new Error('truncated pkt-line');
    yield buf.subarray(i + 4, i + len);
    i += len;
  }
}

export function text(line: Buffer): string {
  return line.toString('utf8').replace(/\n$/, '');
}
