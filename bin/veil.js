#!/usr/bin/env node
// `veil <command>`: runs the compiled CLI (dist/runtime/node/cli/index.js, `npm run build`) with plain Node;
// in a source checkout that has not been built, the TypeScript CLI through tsx.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/runtime/node/cli/index.js', import.meta.url));
const source = fileURLToPath(new URL('../src/runtime/node/cli/index.ts', import.meta.url));
const args = existsSync(compiled) ? [compiled] : ['--import', 'tsx', source];
const child = spawn(process.execPath, [...args, ...process.argv.slice(2)], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
