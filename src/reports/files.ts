/** Writing report files so that a reader never sees half a file: temporary name, then rename. */
import fs from 'node:fs';
import path from 'node:path';
import { writesInPlace } from './csv.ts';

/**
 * Writes `data` to `file` atomically (same folder, temporary name, rename). Creates the folder.
 * @throws Error when the file cannot be written (the temporary file is removed)
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  if (file === '-') {
    process.stdout.write(data);
    return;
  }
  if (writesInPlace(file)) {
    fs.writeFileSync(file, data); // a device or FIFO: never replaced by a rename
    return;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
