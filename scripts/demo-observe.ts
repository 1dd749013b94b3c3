// The evaluation part of the demo, on the registry and store the fleet part left in .model-gitops/demo:
// a continuous-evaluation run (golden set through the CPU harness, report stored, compared with the
// card), a gateway answering seeded simulated users who send feedback, the A/B verdict of the
// always-valid sequential test, and a drift check that stays quiet, then flags shifted traffic.
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, parseDocument } from 'yaml';
import { parseJsonl } from '../src/demo-model/dataset.ts';
import { createGateway, FolderVersionSource } from '../src/gateway/index.ts';
import { mulberry32, pick } from '../src/lib/prng.ts';
import type { Manifest } from '../src/manifest/manifest.ts';
import { fetchVerifiedManifest } from '../src/trust/client.ts';
import { environmentTarget } from '../src/trust/repository.ts';
import { capture, type DemoWorkspace, demoGit, demoRunner } from './demo-fleet.ts';

export async function demoObserve(
  { ws, repo }: DemoWorkspace,
  step: (n: number, title: string) => void,
  first: number,
): Promise<number> {
  const runner = demoRunner(ws);
  const { expectThat } = runner;
  const run = (argv: string[], want = 0, lines = 30) => runner.run(argv, want, lines);
  const root = new URL('..', import.meta.url).pathname;
  const store = join(ws, 'store');
  // The recipe's harness and golden set live in the toolkit's benchmarks/ folder.
  if (!existsSync(join(repo, 'benchmarks'))) symlinkSync(join(root, 'benchmarks'), join(repo, 'benchmarks'));
  const git = demoGit(repo);
  // The experiment needs a challenger: 2.1.0 (in staging) becomes production's canary at 50%, published.
  const envFile = join(repo, 'environments/production.yaml');
  const doc = parseDocument(readFileSync(envFile, 'utf8'));
  const entry = doc.getIn(['models', 'intent-classifier'], true);
  if (isMap(entry)) entry.set('canary', doc.createNode({ version: '2.1.0', weight: '50%' }, { flow: true }));
  else
    doc.setIn(
      ['models', 'intent-classifier'],
      doc.createNode({ version: String(entry), canary: { version: '2.1.0', weight: '50%' } }),
    );
  writeFileSync(envFile, doc.toString({ lineWidth: 0 }));
  const modelYaml = join(repo, 'models/intent-classifier/model.yaml');
  writeFileSync(
    modelYaml,
    `${readFileSync(modelYaml, 'utf8')}experiment:
  hypothesis: 2.1.0 knows cancel_order, so more conversations end resolved without an agent
  metric: resolved
  minimumDetectableEffect: 10%
  alpha: 0.05
  minSamples: 300
drift: {metric: psi, warn: 0.1, fail: 0.25, minRequests: 200}
evaluation: {onDrop: issue}
`,
  );
  git('commit', '-qam', 'intent-classifier: 2.1.0 as a 50% canary in production, with an experiment');
  await run(
    ['publish', '--store', store, '--keys-dir', join(ws, 'keys'), '--repo', repo, '--source-repo', 'acme/models'],
    0,
    1,
  );

  step(first, "Continuous evaluation: production's champion and canary on the golden set, stored and compared");
  await run([
    'evaluate',
    'run',
    '--environment',
    'production',
    '--model',
    'intent-classifier',
    '--repo',
    repo,
    '--store',
    store,
    '--quick',
  ]);
  const jsonOf = (out: string) => JSON.parse(out.slice(out.indexOf('{')));
  const evaluation = jsonOf(
    (
      await capture([
        'evaluate',
        'run',
        '--environment',
        'production',
        '--model',
        'intent-classifier',
        '--repo',
        repo,
        '--store',
        store,
        '--quick',
        '--json',
      ])
    ).out,
  ) as {
    results: {
      role: string;
      key: string;
      comparison: {
        drop: boolean;
        rows: { against: string; difference: number; pValue: number; significant: boolean }[];
      };
    }[];
  };
  const champion = evaluation.results.find((r) => r.role === 'champion');
  expectThat(evaluation.results.length === 2, 'the champion and the canary were evaluated');
  expectThat(champion?.comparison.drop === false, 'the champion shows no drop');
  expectThat(
    champion?.comparison.rows.some((r) => r.against.startsWith('evaluation of')) === true,
    'the second run is compared with the first',
  );
  const again = champion?.comparison.rows.find((r) => r.against.startsWith('evaluation of'));
  if (again)
    console.log(
      `   a second run (--json), champion against its ${again.against}: ${(100 * again.difference).toFixed(2)} pt, p = ${again.pValue.toFixed(3)}, significant drop: ${again.significant ? 'yes' : 'no'}`,
    );
  const reference = join(store, champion!.key);

  step(first + 1, 'A/B experiment: 3,000 seeded users, 2.1.0 as a 50% canary, feedback over POST /v1/feedback');
  const { manifest } = await fetchVerifiedManifest({
    trustedRoot: readFileSync(join(repo, 'trust', 'root.json')),
    stateDir: join(ws, 'observe-trust'),
    source: store,
    target: environmentTarget('production'),
  });
  const gateway = createGateway({
    environment: 'production',
    source: new FolderVersionSource(join(ws, 'weights')),
    log: () => {},
  });
  await gateway.applyManifest(manifest as Manifest);
  const { port } = await gateway.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  const golden = parseJsonl(readFileSync(join(root, 'benchmarks/golden/intents.jsonl'), 'utf8')).map((e) => e.text);
  const rng = mulberry32(2026);
  const users = async (n: number, texts: string[]) => {
    let ids = 0;
    for (let i = 0; i < n; i++) {
      // Each simulated user is a routing key: the canary's 50% of buckets decide who sees 2.1.0.
      const r = await fetch(`${url}/v1/models/intent-classifier/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-routing-key': `user-${n}-${i}` },
        body: JSON.stringify({ inputs: pick(rng, texts) }),
      });
      await r.arrayBuffer();
      const version = r.headers.get('x-served-version');
      const id = r.headers.get('x-request-id');
      if (!id) continue;
      ids++;
      const resolved = rng() < (version === '2.1.0' ? 0.58 : 0.5);
      const fb = await fetch(`${url}/v1/feedback`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ request_id: id, outcome: resolved }),
      });
      await fb.arrayBuffer();
    }
    return ids;
  };
  try {
    const ids = await users(3000, golden);
    expectThat(ids === 3000, `every answer carries x-request-id (${ids} of 3000)`);
    const verdict = await run([
      'experiment',
      'report',
      '--model',
      'intent-classifier',
      '--gateway',
      url,
      '--repo',
      repo,
    ]);
    expectThat(verdict.includes('**Verdict: challenger**'), 'the challenger (+16% resolved) wins');

    step(first + 2, "Drift: live traffic against the champion's golden-set reference, then traffic that changed");
    await run(['drift', '--model', 'intent-classifier', '--reference', reference, '--gateway', url, '--repo', repo]);
    await users(
      1000,
      golden.map((t) => `${t}, and also I need to change the delivery address and the invoice name`),
    );
    await run(['drift', '--model', 'intent-classifier', '--reference', reference, '--gateway', url, '--repo', repo], 1);
  } finally {
    await gateway.close();
  }
  return runner.failures();
}
