// Bundles the cluster page (with uPlot) into dist/, which `clusterctl web` serves.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { bundle } from '../bundle.mjs';

await bundle(esbuild, dirname(fileURLToPath(import.meta.url)), {
  name: 'console',
  copy: ['index.html'],
  loader: { '.css': 'css' },
});
