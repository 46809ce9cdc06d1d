// Bundles the browser client into dist/ with esbuild. The library comes from ../js (its
// protobuf code generated from proto/ first: npm ci there when needed, then npm run proto).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { bundle } from '../bundle.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const lib = join(here, '..', 'js');
const npm = (...args) => execFileSync('npm', args, { cwd: lib, stdio: 'inherit' });
if (!existsSync(join(lib, 'node_modules', 'protobufjs'))) npm('ci', '--no-audit', '--no-fund');
npm('run', '--silent', 'proto');

await bundle(esbuild, here, { name: 'web', copy: ['index.html', 'style.css'], sourcemap: true });
