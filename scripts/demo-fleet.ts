// The fleet half of the demo, everything on this machine with the embedded defaults: weights pushed to
// a local-folder store, a generated demo key signing the manifest, a device folder synced from it, a
// fine-tune that changes one tensor synced as a delta, and a gateway serving the environment with a
// canary ramp and an automated rollback. Workspace: .model-gitops/demo/ (recreated on every run, kept
// afterwards so you can look at the store, the signed metadata and the device folder). Its registry is a
// copy of the toolkit's example fleet (examples/fleet): the demo never reads the checkout's own models/
// and environments/, which are the user's registry and may hold anything, or nothing.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main as cli } from '../src/cli/main.ts';
import { modelFiles, loadModelDir } from '../src/demo-model/model.ts';
import { createGateway, FolderVersionSource, bagOfBytesLoader, type Loader } from '../src/gateway/index.ts';
import type { Manifest } from '../src/manifest/manifest.ts';
import { fetchVerifiedManifest } from '../src/trust/client.ts';
import { environmentTarget } from '../src/trust/repository.ts';
import { writeDemoWeights } from './demo-weights.ts';

/** The toolkit's example fleet: examples/fleet/{models,environments}. */
export const EXAMPLE_FLEET = fileURLToPath(new URL('../examples/fleet', import.meta.url));

/** Copies the example fleet's models/ and environments/ into `dir` (created if missing). */
export function copyExampleFleet(dir: string): void {
  mkdirSync(dir, { recursive: true });
  cpSync(join(EXAMPLE_FLEET, 'models'), join(dir, 'models'), { recursive: true });
  cpSync(join(EXAMPLE_FLEET, 'environments'), join(dir, 'environments'), { recursive: true });
}

export interface DemoWorkspace {
  /** <checkout>/.model-gitops/demo */
  ws: string;
  /** $DEMO/registry: the demo's registry, a copy of the example fleet. */
  repo: string;
}

/** Recreates the demo workspace under `root` (the checkout) with a fresh copy of the example fleet. */
export function prepareDemoWorkspace(root: string): DemoWorkspace {
  const ws = join(root, '.model-gitops', 'demo');
  rmSync(ws, { recursive: true, force: true });
  const repo = join(ws, 'registry');
  copyExampleFleet(repo);
  return { ws, repo };
}

/** Runs a CLI command, capturing what it prints; returns its exit code and output. */
export async function capture(argv: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const orig = {
    log: console.log,
    error: console.error,
    write: process.stdout.write.bind(process.stdout),
    ewrite: process.stderr.write.bind(process.stderr),
  };
  console.log = (...a: unknown[]) => {
    lines.push(a.join(' '));
  };
  console.error = (...a: unknown[]) => {
    lines.push(a.join(' '));
  };
  const grab = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk).replace(/\n$/, ''));
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = grab;
  process.stderr.write = grab;
  try {
    return { code: await cli(argv), out: lines.join('\n') };
  } finally {
    console.log = orig.log;
    console.error = orig.error;
    process.stdout.write = orig.write;
    process.stderr.write = orig.ewrite;
  }
}

/** git in the demo's registry, as a fixed demo identity and without the machine's git configuration. */
export function demoGit(repo: string): (...args: string[]) => string {
  return (...args) =>
    execFileSync('git', args, {
      cwd: repo,
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_AUTHOR_NAME: 'demo',
        GIT_AUTHOR_EMAIL: 'demo@example.com',
        GIT_COMMITTER_NAME: 'demo',
        GIT_COMMITTER_EMAIL: 'demo@example.com',
      },
    }).trim();
}

/**
 * What every demo part shares: `run` shows a model-gitops command (the workspace path as $DEMO) and at
 * most `lines` lines of its output, and records an expectation on its exit code; `failures()` counts
 * the expectations that did not hold.
 */
export function demoRunner(ws: string) {
  let failed = 0;
  const expectThat = (ok: boolean, what: string) => {
    if (!ok) {
      failed++;
      console.log(`   !! demo expectation failed: ${what}`);
    }
  };
  const show = (text: string, lines = Number.POSITIVE_INFINITY) => {
    for (const l of text
      .split('\n')
      .filter((x) => x.trim())
      .slice(0, lines))
      console.log(`   ${l}`);
  };
  const run = async (argv: string[], want = 0, lines = Number.POSITIVE_INFINITY) => {
    const r = await capture(argv);
    console.log(`   $ model-gitops ${argv.map((a) => a.replaceAll(ws, '$DEMO')).join(' ')}`);
    show(r.out, lines);
    expectThat(r.code === want, `model-gitops ${argv.slice(0, 2).join(' ')} exited ${r.code}, expected ${want}`);
    return r.out;
  };
  return { expectThat, show, run, failures: () => failed };
}

export async function demoFleet(
  { ws, repo }: DemoWorkspace,
  step: (n: number, title: string) => void,
  first: number,
): Promise<number> {
  const { expectThat, run, show, failures } = demoRunner(ws);

  const store = join(ws, 'store');
  const keys = join(ws, 'keys');
  const device = join(ws, 'device');
  const weights = join(ws, 'weights');
  const git = demoGit(repo);
  git('init', '-q', '-b', 'main');

  step(
    first,
    "Push every example version's weights to the local-folder store (content-addressed, with tensor indexes)",
  );
  writeDemoWeights(weights);
  for (const [model, versions] of [
    ['intent-classifier', ['1.0.0', '1.1.0', '2.0.0', '2.1.0']],
    ['pii-scrubber', ['1.4.1', '1.4.2']],
    ['structured-extractor', ['1.0.0', '1.1.0']],
  ] as const) {
    for (const v of versions) {
      const out = JSON.parse(
        (
          await capture([
            'push',
            join(weights, model, v),
            '--model',
            model,
            '--version',
            v,
            '--repo',
            repo,
            '--store',
            store,
            '--json',
          ])
        ).out,
      ) as { totals: { files: number; sentBytes: number }; card: { status: string } };
      console.log(
        `   pushed ${model}@${v}: ${out.totals.files} files, ${out.totals.sentBytes} bytes sent, card ${out.card.status}`,
      );
    }
  }
  await run([
    'push',
    join(weights, 'intent-classifier', '2.1.0'),
    '--model',
    'intent-classifier',
    '--version',
    '2.1.0',
    '--repo',
    repo,
    '--store',
    store,
  ]);
  await run(['verify', '--repo', repo, '--store', store, '--rehash']);
  git('add', '-A');
  git('commit', '-qm', 'example registry');

  step(first + 1, 'Sign and publish the manifest with a generated demo key, then verify it as a device would');
  await run(['keys', 'init', '--store', store, '--keys-dir', keys, '--repo', repo], 0, 0);
  console.log('   (demo keys in $DEMO/keys; the pinned root devices trust: $DEMO/registry/trust/root.json)');
  git('add', '-A');
  git('commit', '-qm', 'pin the trust root');
  await run(['publish', '--store', store, '--keys-dir', keys, '--repo', repo, '--source-repo', 'acme/models']);
  const trust = join(repo, 'trust', 'root.json');
  await run(['manifest', 'verify', store, '--trust', trust, '--environment', 'production']);
  // A tampered slice is refused: flip one byte of the signed production slice in a copy of the store.
  const evil = join(ws, 'tampered-store');
  cpSync(store, evil, { recursive: true });
  const sliceDir = join(evil, 'targets', 'environments');
  const slice = (await import('node:fs')).readdirSync(sliceDir).find((f) => f.endsWith('.production.json'))!;
  const bytes = readFileSync(join(sliceDir, slice));
  bytes[bytes.indexOf('2.0.0')] = '3'.charCodeAt(0);
  writeFileSync(join(sliceDir, slice), bytes);
  await run(['manifest', 'verify', evil, '--trust', trust, '--environment', 'production'], 1);

  step(first + 2, 'An edge device syncs production: verified, staged, activated by rename');
  const syncArgs = ['sync', '--manifest', store, '--trust', trust, '--environment', 'production', '--dir', device];
  await run(syncArgs);
  const again = await capture([...syncArgs, '--json']);
  const unchanged = JSON.parse(again.out.split('\n').at(-1)!) as { changed: boolean; bytesFetched: number };
  console.log(`   poll again: changed=${unchanged.changed}, ${unchanged.bytesFetched} bytes fetched`);
  expectThat(!unchanged.changed && unchanged.bytesFetched === 0, 'an unchanged poll fetches nothing');

  step(
    first + 3,
    'A fine-tune of the production champion 2.0.0 that changes one tensor (the classification head) goes out as 2.0.1',
  );
  const tuned = loadModelDir(join(weights, 'intent-classifier', '2.0.0'));
  for (let i = 0; i < tuned.head.length; i += 7) tuned.head[i] = tuned.head[i]! * 1.01; // a light touch on the head only
  const tunedDir = join(weights, 'intent-classifier', '2.0.1');
  mkdirSync(tunedDir, { recursive: true });
  for (const [name, b] of Object.entries(modelFiles(tuned))) writeFileSync(join(tunedDir, name), b);
  await run([
    'push',
    tunedDir,
    '--model',
    'intent-classifier',
    '--version',
    '2.0.1',
    '--repo',
    repo,
    '--store',
    store,
    '--parent',
    '2.0.0',
    '--summary',
    'Head re-calibrated on July traffic; body unchanged.',
    '--code-repo',
    'acme/slm-training',
    '--code-commit',
    'e'.repeat(40),
  ]);
  // Promotion through dev and staging is what `check` enforces on pull requests (step 4); here the
  // demo registry moves production directly to show the device side.
  const prodFile = join(repo, 'environments', 'production.yaml');
  writeFileSync(
    prodFile,
    readFileSync(prodFile, 'utf8')
      .replace('version: 2.0.0              # champion', 'version: 2.0.1              # champion')
      .replace('rollbackWindow: [1.1.0]', 'rollbackWindow: [2.0.0, 1.1.0]'),
  );
  git('add', '-A');
  git('commit', '-qm', 'intent-classifier 2.0.1 to production');
  await run(['publish', '--store', store, '--keys-dir', keys, '--repo', repo, '--source-repo', 'acme/models'], 0, 0);
  // The demo models are tiny (37 KiB): with the default 64 KiB coalescing gap the whole file would be
  // one range. A gap of 0 shows the tensor-level delta; on real models tensors are MiBs and it does not matter.
  const delta = await capture([...syncArgs, '--json', '--coalesce-gap', '0']);
  const result = JSON.parse(delta.out.split('\n').at(-1)!) as {
    bytesFetched: number;
    bytesReused: number;
    models: { model: string; version: string; changed: boolean }[];
  };
  const full = readFileSync(join(tunedDir, 'model.safetensors')).length;
  console.log(
    `   device now runs intent-classifier@${result.models.find((m) => m.model === 'intent-classifier')?.version}: ` +
      `${result.bytesFetched} bytes downloaded (the changed head tensor, the header and the index), ${result.bytesReused} bytes reused from 2.0.0 on the device; the full file is ${full} bytes`,
  );
  expectThat(result.bytesFetched < full / 2, 'the fine-tune sync downloads less than half the file');

  step(first + 4, 'A gateway serves production: sticky canary routing, a ramp, and an automated rollback');
  const verified = await fetchVerifiedManifest({
    trustedRoot: readFileSync(trust),
    stateDir: join(ws, 'gateway-trust'),
    source: store,
    target: environmentTarget('production'),
  });
  const manifest = verified.manifest as Manifest;
  let failCanary = false;
  const gateway = createGateway({
    environment: 'production',
    source: new FolderVersionSource(weights),
    log: () => {},
    onEvent: (e) => {
      if (e.type === 'canary-rolled-back')
        console.log(
          `   gateway: canary ${e.model}@${e.canary} rolled back after ${e.failures} failures (${e.reason}); traffic back on ${e.champion}`,
        );
    },
    // Demo fault injection: once switched on, the canary's forward pass throws, as a broken build would.
    loaderFor: (model, version, entry): Loader => {
      const inner = bagOfBytesLoader;
      if (!(model === 'intent-classifier' && version === '2.1.0')) return inner;
      return {
        async load(dir, e) {
          const m = await inner.load(dir, e);
          return {
            ...m,
            predict: async (x: unknown) => {
              if (failCanary) throw new Error('canary build crashes on inference');
              return m.predict(x);
            },
          };
        },
      } as Loader;
    },
  });
  await gateway.applyManifest(manifest);
  const { port } = await gateway.listen(0, '127.0.0.1');
  const ask = async (key: string) => {
    const r = await fetch(`http://127.0.0.1:${port}/v1/models/intent-classifier/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-routing-key': key },
      body: JSON.stringify({ inputs: { text: 'please cancel my order' } }),
    });
    const body = (await r.json()) as { outputs?: { label?: string } };
    return { status: r.status, version: r.headers.get('x-served-version') ?? '', label: body.outputs?.label };
  };
  const share = async (n: number) => {
    let canary = 0;
    for (let i = 0; i < n; i++) if ((await ask(`user-${i}`)).version === '2.1.0') canary++;
    return canary;
  };
  const one = await ask('user-42');
  console.log(
    `   POST /v1/models/intent-classifier/predict "please cancel my order" -> ${one.label} (served by ${one.version})`,
  );
  const at5 = await share(1000);
  console.log(`   canary 2.1.0 at 5%: ${at5} of 1000 users routed to it`);
  const inCanary5 = new Set<string>();
  for (let i = 0; i < 1000; i++) if ((await ask(`user-${i}`)).version === '2.1.0') inCanary5.add(`user-${i}`);
  manifest.environments.production!.models['intent-classifier']!.canary!.weight = 25;
  manifest.sequence += 1;
  await gateway.applyManifest(manifest);
  const at25 = await share(1000);
  let kept = 0;
  for (const k of inCanary5) if ((await ask(k)).version === '2.1.0') kept++;
  console.log(
    `   ramp to 25%: ${at25} of 1000 users; all ${kept} of the ${inCanary5.size} earlier canary users stayed on it (sticky)`,
  );
  expectThat(kept === inCanary5.size && at25 > at5, 'the ramp only adds users to the canary');
  manifest.environments.production!.models['intent-classifier']!.rollout = { failureLimit: 5 };
  manifest.sequence += 1;
  await gateway.applyManifest(manifest);
  failCanary = true;
  let errors = 0;
  for (let i = 0; i < 300; i++) if ((await ask(`user-${i}`)).status >= 500) errors++;
  console.log(
    `   the canary starts failing: ${errors} requests failed (failureLimit 5), then every request went to the champion`,
  );
  expectThat(errors === 5, `exactly the failure limit of requests failed (got ${errors})`);
  await gateway.close();
  await run(['rollback', 'intent-classifier', '--environment', 'production', '--canary', '--repo', repo, '--commit']);
  await run(['publish', '--store', store, '--keys-dir', keys, '--repo', repo, '--source-repo', 'acme/models'], 0, 0);
  await run(['history', '--store', store]);
  return failures();
}
