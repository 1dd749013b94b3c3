// The final stage is the end of the requires chain, whatever it is called: prereleases are refused
// there and the evidence gate applies there. A registry with no final stage refuses the gate.
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FolderReportSink } from '../../src/benchmark/store.ts';
import { finalStages, gatedStages, isFinalStage } from '../../src/registry/stages.ts';
import { addProductionEvidence, compareWithBase } from '../../src/review/check.ts';
import { tempDir } from '../helpers.ts';

const envs = (pairs: Record<string, string | undefined>) =>
  new Map(Object.entries(pairs).map(([name, requires]) => [name, { requires }]));

describe('stages', () => {
  it('finds the ends of requires chains, whatever they are called', () => {
    const chain = envs({ dev: undefined, qa: 'dev', prod: 'qa' });
    expect(finalStages(chain)).toEqual(['prod']);
    expect(isFinalStage(chain, 'prod')).toBe(true);
    expect(isFinalStage(chain, 'qa')).toBe(false);
    expect(isFinalStage(chain, 'nowhere')).toBe(false);
    // Two chains (cloud and edge) end in two final stages.
    expect(finalStages(envs({ dev: undefined, live: 'dev', 'edge-dev': undefined, edge: 'edge-dev' }))).toEqual([
      'edge',
      'live',
    ]);
  });

  it('refuses to gate a registry with no final stage, saying why', () => {
    expect(() => gatedStages(new Map(), 'the registry at main')).toThrow(
      /the registry at main: no final stage to gate \(it has no environments\)/,
    );
    expect(() => gatedStages(envs({ a: 'b', b: 'a' }), 'here')).toThrow(
      /every environment is required by another \(a, b\)/,
    );
  });
});

const GIT_ENV = {
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@example.com',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@example.com',
};
const git = (dir: string, ...args: string[]) =>
  execFileSync('git', args, { cwd: dir, encoding: 'utf8', env: { ...process.env, ...GIT_ENV } });

/** The test's own registry (test/fixtures/valid-base) in a git repo, its production stage renamed `prod`. */
function prodRepo(): string {
  const dir = tempDir('mg-stages-');
  cpSync(new URL('../fixtures/valid-base', import.meta.url), dir, { recursive: true });
  renameSync(join(dir, 'environments/production.yaml'), join(dir, 'environments/prod.yaml'));
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'base');
  return dir;
}

describe('the evidence gate follows the final stage', () => {
  it('gates a stage called prod exactly as it gated production', async () => {
    const repo = prodRepo();
    const file = join(repo, 'environments/prod.yaml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(
        'canary: {version: 2.1.0, weight: 5%}',
        'canary: {version: 1.1.0, weight: 5%}',
      ),
    );
    git(repo, 'commit', '-qam', 'canary 1.1.0');
    // Head: 2.1.0 comes back as the canary of prod; it has no report in the (empty) evidence store.
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(
        'canary: {version: 1.1.0, weight: 5%}',
        'canary: {version: 2.1.0, weight: 5%}',
      ),
    );
    const result = await addProductionEvidence(
      compareWithBase(repo, 'HEAD'),
      new FolderReportSink(tempDir('mg-evidence-')),
    );
    const gate = result.diagnostics.filter((d) => d.rule === 'production-benchmark');
    expect(gate).toHaveLength(1);
    expect(gate[0]).toMatchObject({
      file: 'environments/prod.yaml',
      field: 'models.intent-classifier.canary.version',
      severity: 'error',
    });
    expect(gate[0]!.message).toMatch(/^intent-classifier@2\.1\.0 cannot enter prod: no benchmark evidence/);
  });

  it('refuses --evidence on a registry whose stages form a cycle', async () => {
    const repo = prodRepo();
    const dev = join(repo, 'environments/dev.yaml');
    writeFileSync(dev, readFileSync(dev, 'utf8').replace('description:', 'requires: prod\ndescription:'));
    git(repo, 'commit', '-qam', 'cycle');
    await expect(
      addProductionEvidence(compareWithBase(repo, 'HEAD'), new FolderReportSink(tempDir('mg-evidence-'))),
    ).rejects.toThrow(/no final stage to gate \(every environment is required by another \(dev, prod, staging\)\)/);
  });
});
