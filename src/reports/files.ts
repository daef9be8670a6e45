/** Writing report files so that a reader never sees half a file: temporary name, then rename. */
import fs from 'node:fs';
import path from 'node:path';

/**
 * Writes `data` to `file` atomically (same folder, temporary name, rename). Creates the folder.
 * @throws Error when the file cannot be written (the temporary file is removed)
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
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
