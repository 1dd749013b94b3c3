// Demo piece for `check --base`: a throwaway git repository holding the example fleet (examples/fleet) as `main`,
// then one pull request the check refuses (a patch bump that hides a removed label) and one it
// accepts (promoting intent-classifier 2.1.0, already in staging, to champion in production).
// `node scripts/demo-check.ts` runs it alone; the main demo imports demoCheck.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkAgainstBase } from '../src/review/check.ts';
import { formatCheck } from '../src/cli/check.ts';
import { copyExampleFleet } from './demo-fleet.ts';

export async function demoCheck(log: (line: string) => void = console.log): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'model-gitops-demo-check-'));
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
    });
  const edit = (path: string, from: string, to: string) => {
    const text = readFileSync(join(dir, path), 'utf8');
    if (!text.includes(from)) throw new Error(`demo: ${from} not in ${path}`);
    writeFileSync(join(dir, path), text.replace(from, to));
  };
  try {
    copyExampleFleet(dir);
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('-c', 'user.name=demo', '-c', 'user.email=demo@example.com', 'commit', '-q', '-m', 'example fleet');

    log('$ # PR 1: intent-classifier 2.1.1, new weights... and the "other" label quietly dropped');
    const card = 'models/intent-classifier/versions/2.1.1.yaml';
    cpSync(join(dir, 'models/intent-classifier/versions/2.1.0.yaml'), join(dir, card));
    edit(card, 'version: 2.1.0', 'version: 2.1.1');
    edit(
      card,
      'summary: Retrained on June intents; fewer "other" mistakes on short messages.',
      'summary: Re-exported head.',
    );
    edit(card, '7266898845682a57d939be5f302105d01437cfce1b2c54e0f68dbba7972ad180', 'ab'.repeat(32));
    edit(card, 'labels: [greet, order, cancel_order, other]', 'labels: [greet, order, cancel_order]');
    edit('environments/dev.yaml', 'intent-classifier: 2.1.0', 'intent-classifier: 2.1.1');
    log('$ model-gitops check --base main');
    const refused = checkAgainstBase(dir, 'main');
    for (const line of formatCheck(refused).split('\n')) log(line);
    log(`(exit ${refused.errors === 0 ? 0 : 1}: refused)`);
    log('');

    git('checkout', '-q', '--', '.');
    rmSync(join(dir, card));
    log('$ # PR 2: intent-classifier 2.1.0 (in staging on main, canary in production) becomes the production champion');
    edit(
      'environments/production.yaml',
      'version: 2.0.0              # champion',
      'version: 2.1.0              # champion',
    );
    edit('environments/production.yaml', '    canary: {version: 2.1.0, weight: 5%}\n', '');
    edit('environments/production.yaml', 'rollbackWindow: [1.1.0]', 'rollbackWindow: [2.0.0, 1.1.0]');
    log('$ model-gitops check --base main');
    const accepted = checkAgainstBase(dir, 'main');
    for (const line of formatCheck(accepted).split('\n')) log(line);
    log(`(exit ${accepted.errors === 0 ? 0 : 1}: ${accepted.errors === 0 ? 'accepted' : 'refused'})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await demoCheck();
