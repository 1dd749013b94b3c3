// For the benchmark workflow: prints `matrix=<JSON>` (GITHUB_OUTPUT syntax) with one entry per version
// the pull request brings into production, and the runner labels from the trusted base's recipe.
//   node scripts/benchmark-plan.ts --base <trusted checkout> --head <pull request checkout>
import { parseArgs } from 'node:util';
import { benchmarkPlan } from '../src/benchmark/plan.ts';
import { WorkingTreeSource } from '../src/registry/source.ts';
import { validateRegistry } from '../src/registry/validate.ts';

const { values } = parseArgs({
  options: { base: { type: 'string', default: '.' }, head: { type: 'string' } },
  strict: true,
});
if (!values.head) {
  console.error('usage: node scripts/benchmark-plan.ts --base DIR --head DIR');
  process.exit(2);
}
const load = (dir: string) => validateRegistry(new WorkingTreeSource(dir, { maxFileBytes: 1024 * 1024 })).registry;
const plan = benchmarkPlan(load(values.base), load(values.head), (l) => console.error(`::warning::${l}`));
console.log(`matrix=${JSON.stringify(plan)}`);
