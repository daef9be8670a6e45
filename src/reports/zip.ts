/**
 * A minimal ZIP writer (PKWARE APPNOTE 6.3: local headers, DEFLATE with Node's zlib, central directory, no
 * ZIP64), enough for an Office Open XML package such as an XLSX work list. Entries are written in the order
 * given; file names are UTF-8 (flag bit 11).
 */
import zlib from 'node:zlib';

/** One file of the archive. */
export interface ZipEntry {
  /** Path inside the archive, `/`-separated, e.g. `xl/workbook.xml`. */
  name: string;
  data: string | Uint8Array;
}

/**
 * zlib level 1: a quarter of the CPU of the default level 6 on work-list XML for files about a fifth larger
 * (measured on the 250,000-recipient bench: 3 vs 12 ms per MB of XML).
 */
const DEFLATE_LEVEL = 1;

/** MS-DOS date and time of an instant, in UTC (what the archive shows as the entries' modification time). */
function dosDateTime(at: Date): { time: number; date: number } {
  const year = Math.min(Math.max(at.getUTCFullYear(), 1980), 2107);
  return {
    time: (at.getUTCHours() << 11) | (at.getUTCMinutes() << 5) | (at.getUTCSeconds() >> 1),
    date: ((year - 1980) << 9) | ((at.getUTCMonth() + 1) << 5) | at.getUTCDate(),
  };
}

/**
 * Builds a ZIP archive in memory, every entry deflated (level {@link DEFLATE_LEVEL}).
 * @param modified the modification time recorded for every entry
 * @throws RangeError when the archive would need ZIP64 (an entry or the archive of 4 GiB or more, or 65,535 entries)
 */
export function zipArchive(entries: readonly ZipEntry[], modified: Date): Buffer<ArrayBuffer> {
  if (entries.length >= 0xffff) throw new RangeError('too many ZIP entries');
  const { time, date } = dosDateTime(Number.isFinite(modified.getTime()) ? modified : new Date(0));
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const raw = typeof e.data === 'string' ? Buffer.from(e.data, 'utf8') : Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength);
    const packed = zlib.deflateRawSync(raw, { level: DEFLATE_LEVEL });
    const name = Buffer.from(e.name, 'utf8');
    const crc = zlib.crc32(raw);
    if (raw.length >= 0xffffffff || offset + packed.length + 30 + name.length >= 0xffffffff) throw new RangeError('ZIP entry too large');
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4); // made by: MS-DOS, 2.0
    dir.writeUInt16LE(20, 6);
    dir.writeUInt16LE(0x0800, 8);
    dir.writeUInt16LE(8, 10);
    dir.writeUInt16LE(time, 12);
    dir.writeUInt16LE(date, 14);
    dir.writeUInt32LE(crc, 16);
    dir.writeUInt32LE(packed.length, 20);
    dir.writeUInt32LE(raw.length, 24);
    dir.writeUInt16LE(name.length, 28);
    dir.writeUInt32LE(offset, 42); // extra, comment, disk, attributes: 0
    parts.push(local, name, packed);
    central.push(dir, name);
    offset += local.length + name.length + packed.length;
  }
  const dirSize = central.reduce((s, b) => s + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dirSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...central, end]);
}
