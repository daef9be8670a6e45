/**
 * Streaming CSV file writer for the generator: lines are appended to a string chunk, encoded (UTF-8, UTF-8
 * with BOM or GB18030 via iconv-lite) and handed to an fs.WriteStream in ~256 KB pieces. The caller awaits
 * {@link Sink.drain} between batches of recipients, so memory stays flat whatever the file size.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import iconv from 'iconv-lite';

export type FileEncoding = 'gb18030' | 'utf-8-bom' | 'utf-8';
export const FILE_ENCODINGS: readonly FileEncoding[] = ['gb18030', 'utf-8-bom', 'utf-8'];

export type Eol = 'crlf' | 'lf';

const BUFFER_BYTES = 1 << 18;

/**
 * GB18030 encoder for whole lines, byte-identical to `iconv.encode(text, 'gb18030')` (GB18030 is stateless,
 * so encoding per character gives the same bytes): ASCII passes through, every other BMP code unit is encoded
 * once with iconv-lite and cached; surrogate pairs go to iconv-lite each time (they are rare).
 */
class Gb18030Encoder {
  private readonly len = new Uint8Array(65536);
  private readonly bytes = new Uint32Array(65536);

  /** Encodes `text` into `buf` at `pos`; returns the new position. `buf` must have 4·text.length bytes free. */
  encodeInto(text: string, buf: Buffer, pos: number): number {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x80) {
        buf[pos++] = c;
        continue;
      }
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        const enc = iconv.encode(text.slice(i, i + 2), 'gb18030');
        enc.copy(buf, pos);
        pos += enc.length;
        i++;
        continue;
      }
      let n = this.len[c]!;
      if (n === 0) {
        const enc = iconv.encode(String.fromCharCode(c), 'gb18030');
        n = enc.length;
        let v = 0;
        for (let k = 0; k < n; k++) v = (v << 8) | enc[k]!;
        this.len[c] = n;
        this.bytes[c] = v >>> 0;
      }
      const v = this.bytes[c]!;
      for (let k = n - 1; k >= 0; k--) buf[pos++] = (v >>> (8 * k)) & 0xff;
    }
    return pos;
  }
}

let gbEncoder: Gb18030Encoder | null = null;

export class Sink {
  private buf: Buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private readonly pool: Buffer[] = [];
  private pos = 0;
  private readonly stream: WriteStream;
  private readonly eolText: string;
  private readonly gb: Gb18030Encoder | null;
  /** Physical lines written so far (header included). */
  lines = 0;

  constructor(
    readonly path: string,
    readonly encoding: FileEncoding,
    eol: Eol,
  ) {
    this.stream = createWriteStream(path, { highWaterMark: BUFFER_BYTES });
    this.eolText = eol === 'crlf' ? '\r\n' : '\n';
    this.gb = encoding === 'gb18030' ? (gbEncoder ??= new Gb18030Encoder()) : null;
    if (encoding === 'utf-8-bom') {
      this.buf[0] = 0xef;
      this.buf[1] = 0xbb;
      this.buf[2] = 0xbf;
      this.pos = 3;
    }
  }

  /** Appends one physical line (without its line ending). */
  line(text: string): void {
    const worst = 4 * text.length + 2;
    if (this.pos + worst > this.buf.length) {
      this.flush();
      if (worst > this.buf.length) this.buf = Buffer.allocUnsafe(worst);
    }
    if (this.gb) this.pos = this.gb.encodeInto(text, this.buf, this.pos);
    else this.pos += this.buf.write(text, this.pos, 'utf8');
    if (this.eolText.length === 2) this.buf[this.pos++] = 13;
    this.buf[this.pos++] = 10;
    this.lines++;
  }

  private flush(): void {
    if (this.pos === 0) return;
    const full = this.buf;
    // The buffer goes back to the pool once the stream has written it, so no garbage buffers pile up.
    this.stream.write(full.subarray(0, this.pos), () => {
      if (full.length === BUFFER_BYTES && this.pool.length < 4) this.pool.push(full);
    });
    this.buf = this.pool.pop() ?? Buffer.allocUnsafe(BUFFER_BYTES);
    this.pos = 0;
  }

  /** Resolves once the stream's buffer is below its high-water mark. */
  async drain(): Promise<void> {
    if (this.stream.writableNeedDrain) await once(this.stream, 'drain');
  }

  /** Flushes, ends and waits for the file to be written. */
  async close(): Promise<void> {
    this.flush();
    this.stream.end();
    await finished(this.stream);
  }
}

/**
 * One CSV cell per RFC 4180: quoted (inner quotes doubled) only when it holds a comma, a quote, CR or LF.
 */
export function csvCell(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 44 || c === 34 || c === 10 || c === 13) return '"' + text.replace(/"/g, '""') + '"';
  }
  return text;
}
