// `npm run bench [name...]`: runs each bench/<name>.bench.ts in its own Node process, one after another,
// so one benchmark's memory and JIT state never colour the next. Each prints its own table and ratios.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const dir = new URL('.', import.meta.url);
const all = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .sort();
const wanted = process.argv.slice(2);
const selected = wanted.length ? all.filter((f) => wanted.some((w) => f.startsWith(w))) : all;
if (selected.length === 0) {
  console.error(`no benchmark matches ${wanted.join(' ')}; have: ${all.join(', ')}`);
  process.exit(2);
}
let failed = 0;
for (const f of selected) {
  console.log(`\n=== ${f} ===`);
  const r = spawnSync(process.execPath, [new URL(f, dir).pathname], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`${f} exited with ${r.status ?? r.signal}`);
  }
}
process.exit(failed ? 1 : 0);
