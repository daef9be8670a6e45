// Bootstrap of the ingest worker thread: a worker does not inherit the main thread's TypeScript loader, so
// it registers tsx (as bin/fundguard.js does) before loading the worker module.
import { register } from 'tsx/esm/api';
register();
await import('./parse-worker.ts');
