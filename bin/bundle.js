// The bundled build of the CLI: the TypeScript sources of src/ compiled into a few ES modules under
// .cache/bundle/ (gitignored) by esbuild — the very esbuild that tsx uses to run the sources, resolved through
// tsx, so no extra dependency. Running the bundle saves the ≈ 1.5 s that tsx's loader costs every process.
//
// The bundle is built on first use and rebuilt whenever it is stale: the manifest lists every file that went
// into it (the src/ modules, the package.json of each bundled package, this file, tsconfig.json,
// package.json) with the SHA-256 of its content, and `bundledEntry()` re-hashes them (≈ 80 small files, a few
// ms) before each start — an edited, added (imported by an edited file) or removed source always triggers a
// rebuild, so a dev edit never runs stale code. npm packages but ECharts, kysely and zod stay external (loaded
// from node_modules as before). Concurrent starts each build into their own folder and swap the manifest
// atomically. If the bundle cannot be built (read-only install, esbuild missing), the caller falls back to
// tsx. `node bin/bundle.js` builds it now (npm run build); FUNDGUARD_NO_BUNDLE=1 forces the tsx path.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Folder of the builds and of manifest.json. */
export const BUNDLE_DIR = path.join(ROOT, '.cache', 'bundle');
const MANIFEST = path.join(BUNDLE_DIR, 'manifest.json');
const FORMAT = 1;
/** Entry points: output name → source. */
const ENTRIES = { fundguard: 'src/cli/main.ts', 'parse-worker': 'src/ingest/parse-worker.ts' };
/** Files that shape the output without being bundled modules. */
const CONFIG_FILES = ['bin/bundle.js', 'tsconfig.json', 'package.json'];

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function readManifest() {
  try {
    return JSON.parse(fs.readFileSync(MANIFEST, 'utf8'));
  } catch {
    return null;
  }
}

/** Whether the manifest's build is complete and made from the current files (content hashes). */
function isFresh(m) {
  if (!m || m.format !== FORMAT || m.root !== ROOT) return false;
  try {
    for (const [rel, hash] of Object.entries(m.inputs)) if (sha256(path.join(ROOT, rel)) !== hash) return false;
    return fs.existsSync(path.join(BUNDLE_DIR, m.build, 'fundguard.mjs'));
  } catch {
    return false; // an input was removed
  }
}

/**
 * esbuild plugin: `import.meta.url` in a source module becomes that module's own file URL, so paths computed
 * from it (seeds/, the holiday table) are the same as when the sources run through tsx.
 */
const sourceUrlPlugin = {
  name: 'source-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      const src = fs.readFileSync(args.path, 'utf8');
      if (!src.includes('import.meta.url')) return undefined;
      return { contents: src.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: 'ts' };
    });
  },
};

/**
 * npm packages left external (loaded from node_modules at run time): all but the pure-ESM libraries below,
 * which are bundled and tree-shaken. ECharts (and its zrender) is hundreds of modules of which only the bar and
 * line charts and the SVG renderer are kept; kysely and zod are some hundred modules each. Bundled, they load
 * as one file: ≈ 0.5 s less CPU per run. (CommonJS packages, pino's transports and native modules stay out.)
 */
const BUNDLED = ['echarts', 'kysely', 'zod'];
function externalPackages() {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  return Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter((n) => !BUNDLED.includes(n));
}

/** A bundled module of an npm package stands for its package.json (the version: changes only with `npm ci`). */
function packageJsonOf(rel) {
  const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(rel);
  return m ? `${m[1]}/package.json` : rel;
}

/**
 * Builds the bundle into a new folder under {@link BUNDLE_DIR} and points the manifest at it.
 * @returns the manifest
 * @throws when esbuild cannot be loaded or the build fails
 */
export async function buildBundle() {
  const require = createRequire(createRequire(path.join(ROOT, 'package.json')).resolve('tsx/package.json'));
  const esbuild = require(require.resolve('esbuild'));
  const build = `${Date.now().toString(36)}-${process.pid}`;
  const outdir = path.join(BUNDLE_DIR, build);
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: ENTRIES,
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: externalPackages(),
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'silent',
    define: { FUNDGUARD_BUNDLED_PARSE_WORKER: JSON.stringify(pathToFileURL(path.join(outdir, 'parse-worker.mjs')).href) },
    plugins: [sourceUrlPlugin],
  });
  const inputs = {};
  for (const rel of [...Object.keys(result.metafile.inputs).map(packageJsonOf), ...CONFIG_FILES]) inputs[rel] ??= sha256(path.join(ROOT, rel));
  const manifest = { format: FORMAT, root: ROOT, build, inputs };
  const tmp = `${MANIFEST}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(manifest, null, 1));
  fs.renameSync(tmp, MANIFEST);
  // Old builds: removed after a day (a process started on one may still load its worker chunk).
  for (const d of fs.readdirSync(BUNDLE_DIR)) {
    const p = path.join(BUNDLE_DIR, d);
    if (d === build || d === 'manifest.json') continue;
    try {
      if (Date.now() - fs.statSync(p).mtimeMs > 86_400_000) fs.rmSync(p, { recursive: true, force: true });
    } catch { /* another process removed it */ }
  }
  return manifest;
}

/**
 * URL of the bundled CLI entry, (re)built first when missing or stale.
 * @returns the file URL, or null when the bundle cannot be built (the caller then runs the sources via tsx)
 */
export async function bundledEntry() {
  let m = readManifest();
  if (!isFresh(m)) {
    try {
      m = await buildBundle();
    } catch (e) {
      process.stderr.write(`fundguard: note: running the sources through tsx (the bundle could not be built: ${String(e?.message ?? e).split('\n')[0]})\n`);
      return null;
    }
  }
  return pathToFileURL(path.join(BUNDLE_DIR, m.build, 'fundguard.mjs')).href;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const m = await buildBundle();
  process.stdout.write(`built ${path.join(BUNDLE_DIR, m.build)} from ${Object.keys(m.inputs).length} files\n`);
}
