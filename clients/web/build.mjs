// Bundles the browser client into dist/ with esbuild. The library comes from ../js (its
// protobuf code generated from proto/ first: npm ci there when needed, then npm run proto).
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const lib = join(here, '..', 'js');
const npm = (...args) => execFileSync('npm', args, { cwd: lib, stdio: 'inherit' });
if (!existsSync(join(lib, 'node_modules', 'protobufjs'))) npm('ci', '--no-audit', '--no-fund');
npm('run', '--silent', 'proto');

const out = join(here, 'dist');
mkdirSync(out, { recursive: true });
await esbuild.build({
  entryPoints: [join(here, 'src', 'main.js')],
  bundle: true,
  format: 'esm',
  target: ['es2020'],
  minify: true,
  sourcemap: true,
  outfile: join(out, 'app.js'),
  logLevel: 'warning',
});
for (const f of ['index.html', 'style.css']) copyFileSync(join(here, 'src', f), join(out, f));
console.log(`web: built ${out}`);
