/**
 * Worker thread of ingest (issue 10): reads the files it is given, in order, with {@link parseFile} and posts
 * the messages to the main thread, which writes them. Back-pressure: at most {@link MAX_AHEAD} batches are
 * posted and not yet written (the main thread returns a credit per batch written), so memory does not grow
 * when reading is faster than writing. Started through parse-worker-boot.js (TypeScript loader).
 *
 * Messages in: `{ t: 'file', job }` (queue a file), `{ t: 'skip', fid }` (stop reading a file: the writer
 * found it already ingested), `{ t: 'credit' }` (one batch written). Out: {@link ParsedMessage}s.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { parseFile, vocabularyOf, type FileJob, type ParsedMessage, type ParseSettings } from './file-parser.ts';

/** Batches posted ahead of the writer (each at most 2000 rows). */
export const MAX_AHEAD = 32;

const port = parentPort!;
const ps = (workerData as { ps: ParseSettings }).ps;
const vocab = vocabularyOf(ps);
const queue: FileJob[] = [];
const skipped = new Set<number>();
let ahead = 0;
let wake: (() => void) | null = null;
let running = false;

const emit = async (m: ParsedMessage): Promise<void> => {
  if (m.t === 'batch') {
    while (ahead >= MAX_AHEAD) await new Promise<void>((r) => (wake = r));
    ahead++;
  }
  port.postMessage(m);
};

async function drain(): Promise<void> {
  if (running) return;
  running = true;
  while (queue.length) {
    const job = queue.shift()!;
    try {
      await parseFile(job, ps, vocab, emit, () => skipped.has(job.fid));
    } catch (e) {
      port.postMessage({ t: 'crash', fid: job.fid, message: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined } satisfies ParsedMessage);
    }
    port.postMessage({ t: 'done', fid: job.fid } satisfies ParsedMessage);
  }
  running = false;
}

port.on('message', (m: { t: 'file'; job: FileJob } | { t: 'skip'; fid: number } | { t: 'credit' }) => {
  if (m.t === 'credit') {
    ahead--;
    const w = wake;
    wake = null;
    w?.();
  } else if (m.t === 'skip') skipped.add(m.fid);
  else {
    queue.push(m.job);
    void drain();
  }
});
