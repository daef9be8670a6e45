#!/usr/bin/env node
// Entry point of the `fundguard` command. The product is written in TypeScript and run through tsx's
// loader, so `npm ci` alone is enough to use it (no build step).
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');
