// `npm run demo`: the main job of model-gitops on the example fleet, end to end on this machine, with
// nothing to install or configure (local-folder store, generated demo key). Each step prints what it
// checked; the demo exits non-zero if any step does not behave as it should.
// The demo brings its own fleet: it copies examples/fleet into its workspace (.model-gitops/demo) and
// never reads this checkout's models/ and environments/, which are your registry and may hold anything.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatDiagnostic } from '../src/registry/diagnostics.ts';
import { WorkingTreeSource } from '../src/registry/source.ts';
import { validateRegistry } from '../src/registry/validate.ts';
import { main as cli } from '../src/cli/main.ts';
import { demoCheck } from './demo-check.ts';
import { copyExampleFleet, demoFleet, prepareDemoWorkspace } from './demo-fleet.ts';
import { demoLifecycle } from './demo-lifecycle.ts';
import { demoObserve } from './demo-observe.ts';

const root = new URL('..', import.meta.url).pathname;
const step = (n: number, title: string) => console.log(`\n\u001b[1m${n}. ${title}\u001b[0m`);
let failures = 0;
const expectThat = (ok: boolean, what: string) => {
  if (!ok) {
    failures++;
    console.log(`   !! demo expectation failed: ${what}`);
  }
};

const workspace = prepareDemoWorkspace(root);
console.log(`workspace: ${workspace.ws} ($DEMO below); its registry, $DEMO/registry, is a copy of examples/fleet`);

step(1, 'Validate the example registry (schemas, identity, references, dependencies, requires chains)');
expectThat((await cli(['validate', '--repo', workspace.repo])) === 0, 'the example registry is valid');

step(2, 'List models, versions and where each runs');
expectThat((await cli(['ls', '--repo', workspace.repo])) === 0, 'ls succeeds');

step(3, 'A broken pull request: a card that hides a typo, a bad hash and a version that does not exist');
const scratch = mkdtempSync(join(tmpdir(), 'model-gitops-demo-'));
try {
  copyExampleFleet(scratch);
  const card = join(scratch, 'models/intent-classifier/versions/2.1.0.yaml');
  writeFileSync(
    card,
    readFileSync(card, 'utf8')
      .replace('summary:', 'sumary:')
      .replace(/sha256: 72668988\w+/, 'sha256: 72668988X'),
  );
  const env = join(scratch, 'environments/staging.yaml');
  writeFileSync(env, readFileSync(env, 'utf8').replace('pii-scrubber: 1.4.2', 'pii-scrubber: 1.5.0'));
  const result = validateRegistry(new WorkingTreeSource(scratch, { maxFileBytes: 1024 * 1024 }));
  for (const d of result.diagnostics) console.log(`   ${formatDiagnostic(d)}`);
  console.log(`   -> ${result.errors} errors; validate would exit 1 and the pull request check would fail`);
  expectThat(result.errors === 4, `4 errors reported (got ${result.errors})`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

step(4, 'Pull requests judged against main: semver, immutability, promotion through requires');
try {
  await demoCheck((line) => console.log(`   ${line}`));
} catch (e) {
  expectThat(false, `check demo: ${(e as Error).message}`);
}

try {
  failures += await demoFleet(workspace, step, 5);
} catch (e) {
  expectThat(false, `fleet demo: ${(e as Error).stack ?? String(e)}`);
}

try {
  failures += await demoLifecycle(workspace, step, 10);
} catch (e) {
  expectThat(false, `lifecycle demo: ${(e as Error).stack ?? String(e)}`);
}

try {
  failures += await demoObserve(workspace, step, 14);
} catch (e) {
  expectThat(false, `evaluation demo: ${(e as Error).stack ?? String(e)}`);
}

console.log(
  failures === 0
    ? '\ndemo finished: every step behaved as expected'
    : `\ndemo finished with ${failures} unexpected result(s)`,
);
process.exitCode = failures === 0 ? 0 : 1;
