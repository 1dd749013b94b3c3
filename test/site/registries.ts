// Registries for the site tests, as real git repositories in temp folders: the example fleet with a
// promotion history (direct commits, merged pull requests with a reviewer trailer, a canary), a
// generated registry of many models, and a hostile card whose text is markup and script.
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateRegistry } from '../../bench/registry-generator.ts';
import { FLEET, tempDir } from '../helpers.ts';

export type Git = (...args: string[]) => string;

export function gitIn(dir: string): Git {
  return (...args) =>
    execFileSync('git', args, {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
    }).trim();
}

const as = (name: string) => ['-c', `user.name=${name}`, '-c', `user.email=${name.toLowerCase()}@example.com`];

/** The words a hostile card uses; none of them may ever become markup or run. */
export const HOSTILE = {
  summary: `Looks fine <script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> & "quotes"`,
  uri: 'javascript:window.__pwned=3',
};

function replace(dir: string, path: string, from: string | RegExp, to: string): void {
  const p = join(dir, path);
  const text = readFileSync(p, 'utf8');
  const next = text.replace(from, to);
  if (next === text) throw new Error(`${path}: "${from}" not found`);
  writeFileSync(p, next);
}

/**
 * The example fleet, reached through history on main:
 * 1. Ana commits the fleet with production on intent-classifier 1.1.0 and staging on 2.0.0 (direct);
 * 2. Bo's branch moves production to 2.0.0 (rollback window 1.1.0), reviewed by Cy; Dee merges it as PR #12;
 * 3. Ana moves staging to 2.1.0 directly;
 * 4. Bo's branch adds the 2.1.0 canary at 5% in production; Dee merges it as PR #13.
 * The head is exactly examples/fleet. With `hostile`, a hostile card lands in a last commit.
 */
export function fleetWithHistory(options: { hostile?: boolean } = {}): string {
  const dir = tempDir('mg-site-fleet-');
  cpSync(join(FLEET, 'models'), join(dir, 'models'), { recursive: true });
  cpSync(join(FLEET, 'environments'), join(dir, 'environments'), { recursive: true });
  const git = gitIn(dir);
  git('init', '-q', '-b', 'main');
  const prod = 'environments/production.yaml';
  const finalProd = readFileSync(join(dir, prod), 'utf8');
  replace(dir, prod, /  intent-classifier:\n(    .*\n){3}/, '  intent-classifier: 1.1.0\n');
  replace(dir, 'environments/staging.yaml', 'intent-classifier: 2.1.0', 'intent-classifier: 2.0.0');
  git('add', '-A');
  git(...as('Ana'), 'commit', '-q', '-m', 'Example fleet');

  git('checkout', '-q', '-b', 'promote-2.0.0');
  replace(
    dir,
    prod,
    '  intent-classifier: 1.1.0\n',
    '  intent-classifier:\n    version: 2.0.0\n    rollbackWindow: [1.1.0]\n',
  );
  git(
    ...as('Bo'),
    'commit',
    '-q',
    '-am',
    'Promote intent-classifier 2.0.0 to production\n\nReviewed-by: Cy <cy@example.com>',
  );
  git('checkout', '-q', 'main');
  git(...as('Dee'), 'merge', '-q', '--no-ff', '-m', 'Merge pull request #12 from acme/promote-2.0.0', 'promote-2.0.0');

  replace(dir, 'environments/staging.yaml', 'intent-classifier: 2.0.0', 'intent-classifier: 2.1.0');
  git(...as('Ana'), 'commit', '-q', '-am', 'Stage intent-classifier 2.1.0');

  git('checkout', '-q', '-b', 'canary-2.1.0');
  writeFileSync(join(dir, prod), finalProd);
  git(...as('Bo'), 'commit', '-q', '-am', 'Canary intent-classifier 2.1.0 at 5%');
  git('checkout', '-q', 'main');
  git(...as('Dee'), 'merge', '-q', '--no-ff', '-m', 'Merge pull request #13 from acme/canary-2.1.0', 'canary-2.1.0');

  if (options.hostile) {
    const card = readFileSync(join(dir, 'models/pii-scrubber/versions/1.4.2.yaml'), 'utf8')
      .replace('version: 1.4.2', 'version: 1.5.0')
      .replace(/^summary: .*$/m, `summary: ${JSON.stringify(HOSTILE.summary)}`)
      .replace(/uri: "[^"]*"/, `uri: "${HOSTILE.uri}"`);
    writeFileSync(join(dir, 'models/pii-scrubber/versions/1.5.0.yaml'), card);
    git('add', '-A');
    git(...as('Eve'), 'commit', '-q', '-m', 'pii-scrubber 1.5.0 <b>bold</b>');
  }
  return dir;
}

/** A generated registry (bench/registry-generator.ts) committed in one commit. */
export function generatedRepo(models: number, versions: number): string {
  const dir = tempDir('mg-site-gen-');
  generateRegistry(dir, models, versions);
  const git = gitIn(dir);
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git(...as('Ana'), 'commit', '-q', '-m', 'Generated registry');
  return dir;
}
