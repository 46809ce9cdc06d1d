// What the build.mjs of clients/console and clients/web share: esbuild bundles the client's
// src/main.js into dist/app.js, and its static files are copied from src/ beside it. Each
// client passes in its own esbuild (clients/ itself has no node_modules to import it from).
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

// Builds dir/dist. name: the client's name in the last line; copy: the files of src/ to copy;
// options: esbuild options added to (or replacing) the shared ones.
export async function bundle(esbuild, dir, { name, copy, ...options }) {
  const out = join(dir, 'dist');
  mkdirSync(out, { recursive: true });
  await esbuild.build({
    entryPoints: [join(dir, 'src', 'main.js')],
    bundle: true,
    format: 'esm',
    target: ['es2020'],
    minify: true,
    outfile: join(out, 'app.js'),
    logLevel: 'warning',
    ...options,
  });
  for (const f of copy) copyFileSync(join(dir, 'src', f), join(out, f));
  console.log(`${name}: built ${out}`);
}
