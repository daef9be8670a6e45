#!/usr/bin/env node
// Entry point of the `fundguard` command. The product is written in TypeScript. It runs from the bundled build
// (bin/bundle.js: built on first use and rebuilt whenever a source changes, so `npm ci` alone is enough), or from
// the sources through tsx's loader when the bundle cannot be built or FUNDGUARD_NO_BUNDLE=1 is set.
const entry = process.env.FUNDGUARD_NO_BUNDLE === '1' ? null : await (await import('./bundle.js')).bundledEntry();
if (entry) {
  if (process.env.FUNDGUARD_DEBUG) process.setSourceMapsEnabled(true); // stacks point into src/
  await import(entry);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
