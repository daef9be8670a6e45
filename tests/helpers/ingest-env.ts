/**
 * A throw-away inbox and SQLite store for driving the real ingest pipeline in tests: copy fixtures into
 * `payments/` or `deaths/<source>/`, run {@link ingestInbox}, then read the tables back.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore, type Store } from '../../src/db/connection.ts';
import { engineTarget } from './engines.ts';
import { loadSettings } from '../../src/config/settings.ts';
import { ingestInbox, type FileReport } from '../../src/ingest/ingest.ts';
import { silentLogger } from '../../src/log.ts';

export const FIXTURES = fileURLToPath(new URL('../fixtures/ingest/', import.meta.url));

export interface IngestEnv {
  dir: string;
  inbox: string;
  store: Store;
  /** Copies a fixture (or writes bytes) to a path inside the inbox. */
  put(inboxPath: string, fixtureOrBytes: string | Buffer): void;
  /** Runs ingest once (a new run id each time). */
  run(opts?: { asOf?: string; settings?: object }): Promise<FileReport[]>;
  file(inboxPath: string): Promise<{
    status: string; error_code: string | null; error: string | null; encoding: string | null; format: string; header_line: number | null;
    rows_read: number; rows_accepted: number; rows_rejected: number; rows_skipped: number; rows_repeated: number;
  }>;
  /** Rejects of one file as [line, code] pairs, in line order (then code). */
  rejects(inboxPath: string): Promise<{ line: number; code: string; reason: string; raw: string }[]>;
  payments(inboxPath: string): Promise<Record<string, unknown>[]>;
  deaths(inboxPath: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export async function ingestEnv(): Promise<IngestEnv> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fundguard-ingest-'));
  const inbox = path.join(dir, 'inbox');
  fs.mkdirSync(path.join(inbox, 'payments'), { recursive: true });
  const store = await openStore(await engineTarget(dir));
  let runId = 0;
  const fileId = async (p: string): Promise<number> => {
    const row = await store.db.selectFrom('source_file').select('id').where('path', '=', p).orderBy('id', 'desc').executeTakeFirstOrThrow();
    return Number(row.id);
  };
  return {
    dir,
    inbox,
    store,
    put(inboxPath, src) {
      const to = path.join(inbox, inboxPath);
      fs.mkdirSync(path.dirname(to), { recursive: true });
      if (typeof src === 'string') fs.copyFileSync(path.join(FIXTURES, src), to);
      else fs.writeFileSync(to, src);
    },
    async run(opts = {}) {
      let settingsFile: string | undefined;
      if (opts.settings) {
        settingsFile = path.join(dir, `settings-${runId + 1}.json`);
        fs.writeFileSync(settingsFile, JSON.stringify(opts.settings));
      }
      const settings = loadSettings(settingsFile, dir);
      runId++;
      return ingestInbox({ store, inbox, settings, runId, asOf: opts.asOf ?? '2025-12-31', logger: silentLogger });
    },
    async file(p) {
      return store.db.selectFrom('source_file').selectAll().where('path', '=', p).orderBy('id', 'desc').executeTakeFirstOrThrow();
    },
    async rejects(p) {
      const id = await fileId(p);
      return store.db.selectFrom('reject').select(['line', 'code', 'reason', 'raw']).where('file_id', '=', id).orderBy('line').orderBy('code').execute();
    },
    async payments(p) {
      const id = await fileId(p);
      return store.db.selectFrom('payment').selectAll().where('file_id', '=', id).orderBy('line').execute();
    },
    async deaths(p) {
      const id = await fileId(p);
      return store.db.selectFrom('death_record').selectAll().where('file_id', '=', id).orderBy('line').execute();
    },
    async close() {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The accounting of a file as a compact tuple: [read, accepted, rejected, skipped, repeated]. */
export function counts(f: { rows_read: number; rows_accepted: number; rows_rejected: number; rows_skipped: number; rows_repeated: number }): number[] {
  return [f.rows_read, f.rows_accepted, f.rows_rejected, f.rows_skipped, f.rows_repeated];
}
