// Runs the benchmark gate by hand on this machine (a GPU runner, or any machine with the CPU harness):
//   node scripts/run-benchmark.ts --model M --version V [--champion production|X.Y.Z] --weights-root DIR
//        [--repo .] [--cards-repo DIR] [--report-store DIR] [--report-path FILE] [--testbed NAME] [--runs N]
// Prints the Markdown summary; exits 0 on pass, 1 on fail or inconclusive, 2 on a usage or input error.
import { parseArgs } from 'node:util';
import { isUserError } from '../src/lib/errors.ts';
import { FolderMaterializer } from '../src/benchmark/materialize.ts';
import { renderMarkdown } from '../src/benchmark/render.ts';
import { runBenchmark } from '../src/benchmark/run.ts';
import { FolderReportSink } from '../src/benchmark/store.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    version: { type: 'string' },
    champion: { type: 'string', default: 'production' },
    'weights-root': { type: 'string' },
    repo: { type: 'string', default: '.' },
    'cards-repo': { type: 'string' },
    'report-store': { type: 'string' },
    'report-path': { type: 'string' },
    testbed: { type: 'string' },
    runs: { type: 'string' },
    'warmup-runs': { type: 'string' },
  },
  strict: true,
});
if (!values.model || !values.version || !values['weights-root']) {
  console.error(
    'usage: node scripts/run-benchmark.ts --model M --version V --weights-root DIR [--champion production] [--repo .] [--report-store DIR] [--report-path FILE] [--runs N]',
  );
  process.exit(2);
}
try {
  const r = await runBenchmark({
    model: values.model,
    version: values.version,
    champion: values.champion,
    trustedRepo: values.repo,
    ...(values['cards-repo'] ? { cardsRepo: values['cards-repo'] } : {}),
    materializer: new FolderMaterializer(values['weights-root']),
    ...(values['report-store'] ? { sink: new FolderReportSink(values['report-store']) } : {}),
    ...(values['report-path'] ? { reportPath: values['report-path'] } : {}),
    ...(values.testbed ? { testbed: values.testbed } : {}),
    ...(values.runs ? { runs: Number(values.runs) } : {}),
    ...(values['warmup-runs'] ? { warmupRuns: Number(values['warmup-runs']) } : {}),
    log: (l) => console.error(l),
  });
  process.stdout.write(renderMarkdown(r.report));
  process.exitCode = r.report.decision.verdict === 'pass' ? 0 : 1;
} catch (e) {
  if (!isUserError(e)) throw e;
  console.error(`run-benchmark: ${e.message}`);
  process.exitCode = 2;
}
