/**
 * Fingerprinting and encoding detection of an extract, in one streaming pass over its bytes: sha256 (to
 * recognise a file already ingested) and whether the bytes are valid UTF-8. Extracts arrive as UTF-8,
 * UTF-8 with BOM, or GBK/GB18030 (DOMAIN.md §2); a file that is not valid UTF-8 is read as GB18030 (a
 * superset of GBK), and rejected whole if it is not valid GB18030 either.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';

export type TextEncoding = 'utf-8' | 'utf-8-bom' | 'gb18030';

export interface FileFingerprint {
  sha256: string;
  size: number;
  /** The encoding to read the file with, when it is a text file. */
  encoding: TextEncoding;
}

/**
 * Reads the file once: sha256 and UTF-8 validity. Memory is constant (64 KiB chunks).
 * @throws Error (ENOENT, EACCES) when the file cannot be read
 */
export async function fingerprintFile(file: string): Promise<FileFingerprint> {
  const hash = crypto.createHash('sha256');
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let utf8Valid = true;
  let size = 0;
  let first: Buffer | null = null;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 16 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
    if (first === null) first = chunk.subarray(0, 3);
    if (utf8Valid) {
      try {
        utf8.decode(chunk, { stream: true });
      } catch {
        utf8Valid = false;
      }
    }
  }
  if (utf8Valid) {
    try {
      utf8.decode();
    } catch {
      utf8Valid = false;
    }
  }
  const bom = first !== null && first.length === 3 && first[0] === 0xef && first[1] === 0xbb && first[2] === 0xbf;
  return { sha256: hash.digest('hex'), size, encoding: utf8Valid ? (bom ? 'utf-8-bom' : 'utf-8') : 'gb18030' };
}
