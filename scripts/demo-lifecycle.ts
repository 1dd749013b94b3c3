// The lifecycle part of the demo, on the registry and store the fleet part left in .model-gitops/demo:
// a deprecation with a sunset and the headers a gateway then sends, an archive followed by a gc dry run
// and a gc that deletes, an audit answer for a compliance ticket, and a model selection by requirements.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGateway, FolderVersionSource } from '../src/gateway/index.ts';
import type { Manifest } from '../src/manifest/manifest.ts';
import { fetchVerifiedManifest } from '../src/trust/client.ts';
import { environmentTarget } from '../src/trust/repository.ts';
import { capture, type DemoWorkspace, demoGit, demoRunner } from './demo-fleet.ts';

export async function demoLifecycle(
  { ws, repo }: DemoWorkspace,
  step: (n: number, title: string) => void,
  first: number,
): Promise<number> {
  const runner = demoRunner(ws);
  const { expectThat } = runner;
  const run = (argv: string[], want = 0, lines = 40) => runner.run(argv, want, lines);
  const git = demoGit(repo);
  const store = join(ws, 'store');
  const keys = join(ws, 'keys');
  const trust = join(repo, 'trust', 'root.json');
  const publish = ['publish', '--store', store, '--keys-dir', keys, '--repo', repo, '--source-repo', 'acme/models'];

  step(first, 'Deprecate a version with a sunset: the gateway answers with Deprecation, Sunset and Link headers');
  const card = join(repo, 'models/pii-scrubber/versions/1.4.1.yaml');
  writeFileSync(
    card,
    `${readFileSync(card, 'utf8')}deprecated: {since: 2026-11-01, sunset: 2027-06-30, replacement: 1.4.2, reason: misses IBANs}\n`,
  );
  git('commit', '-qam', 'deprecate pii-scrubber 1.4.1');
  await run(publish, 0, 1);
  const { manifest } = await fetchVerifiedManifest({
    trustedRoot: readFileSync(trust),
    stateDir: join(ws, 'lifecycle-trust'),
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
  const r = await fetch(`http://127.0.0.1:${port}/v1/models/pii-scrubber/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: { text: 'my IBAN is DE44 5001 0517 5407 3249 31' } }),
  });
  await r.arrayBuffer();
  for (const h of ['x-served-version', 'deprecation', 'sunset', 'link']) console.log(`   ${h}: ${r.headers.get(h)}`);
  expectThat(
    r.headers.get('sunset') === 'Wed, 30 Jun 2027 00:00:00 GMT',
    "the Sunset header carries the card's sunset",
  );
  expectThat((r.headers.get('link') ?? '').includes('rel="successor-version"'), 'a successor-version link names 1.4.2');
  await gateway.close();

  step(first + 1, 'Archive a version nothing runs any more, then gc the store: a dry run first, then --delete');
  await run(['archive', 'intent-classifier@1.0.0', '--reason', 'superseded by 2.x', '--repo', repo, '--commit']);
  // --grace 0: the demo's objects are seconds old; the default (48 h) protects uploads not yet published.
  const dryOut = (await capture(['gc', '--store', store, '--repo', repo, '--grace', '0', '--json'])).out;
  const dry = JSON.parse(dryOut.slice(dryOut.indexOf('{'))) as { deleted: { key: string }[]; reclaimedBytes: number };
  await run(['gc', '--store', store, '--repo', repo, '--grace', '0']);
  const real = await run(['gc', '--store', store, '--repo', repo, '--grace', '0', '--delete']);
  expectThat(
    dry.deleted.length > 0 && real.includes(`deleted     ${dry.deleted.length} objects`),
    'gc --delete removes what the dry run listed',
  );
  await run(['verify', '--repo', repo, '--store', store], 1, 6); // the archived card's bytes are gone: verify says so, everything else is there

  step(first + 2, 'Audit: what ran in production, who changed it, on which evidence (markdown for a ticket)');
  await run(['audit', '--repo', repo, '--store', store, '--environment', 'production', '--markdown']);

  step(first + 3, 'Select a model by requirements from the published manifest');
  await run([
    'select',
    '--store',
    store,
    '--repo',
    repo,
    '--environment',
    'staging',
    '--min',
    'precision=0.95',
    '--max-parameters',
    '100000',
  ]);
  return runner.failures();
}
