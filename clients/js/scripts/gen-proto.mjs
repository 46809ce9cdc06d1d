// Generates gen/cluster.js (protobufjs static ES module) and gen/cluster.d.ts (its types) from
// the repository's proto/cluster.proto. Run by `npm run proto` (and before `npm test`); the
// output is never committed (.gitignore).
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const proto = join(root, '..', '..', 'proto', 'cluster.proto');
const gen = join(root, 'gen');
const js = join(gen, 'cluster.js');
const dts = join(gen, 'cluster.d.ts');
const bin = (name) => join(root, 'node_modules', '.bin', name);

const fresh = (out) => existsSync(out) && statSync(out).mtimeMs >= statSync(proto).mtimeMs;
if (fresh(js) && fresh(dts) && !process.argv.includes('--force')) {
  process.exit(0);
}
mkdirSync(gen, { recursive: true });
execFileSync(bin('pbjs'), ['-t', 'static-module', '-w', 'es6', '-o', js, proto], { stdio: 'inherit' });
execFileSync(bin('pbts'), ['-o', dts, js], { stdio: 'inherit' });
console.log(`gen-proto: ${js} and ${dts} from ${proto}`);
