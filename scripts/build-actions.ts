// Bundles each actions/<name>/src/main.ts into actions/<name>/dist/index.js with esbuild: GitHub runs
// an action straight from the repository, so the bundle is committed. `--check` rebuilds in memory and
// fails when a committed bundle differs from what the sources produce (a stale dist).
import { build } from 'esbuild';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const check = process.argv.includes('--check');
const actionsDir = join(root, 'actions');
const names = readdirSync(actionsDir)
  .filter((n) => existsSync(join(actionsDir, n, 'src', 'main.ts')))
  .sort();

let stale = 0;
for (const name of names) {
  const result = await build({
    entryPoints: [join(actionsDir, name, 'src', 'main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    write: false,
    minify: true,
    keepNames: true,
    legalComments: 'none',
    logLevel: 'warning',
    // Some CommonJS dependencies call require() for Node built-ins; give the ESM bundle a require.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
  });
  const code = result.outputFiles[0]!.contents;
  const out = join(actionsDir, name, 'dist', 'index.js');
  const current = existsSync(out) ? readFileSync(out) : undefined;
  const same = current !== undefined && Buffer.compare(current, Buffer.from(code)) === 0;
  if (check) {
    if (!same) {
      stale++;
      console.error(`actions/${name}/dist/index.js is stale: run npm run build:actions and commit it`);
    } else console.log(`actions/${name}/dist/index.js is up to date`);
  } else {
    mkdirSync(join(actionsDir, name, 'dist'), { recursive: true });
    if (!same) writeFileSync(out, code);
    console.log(`actions/${name}/dist/index.js ${(code.length / 1024).toFixed(0)} KiB${same ? ' (unchanged)' : ''}`);
  }
}
if (stale) process.exit(1);
