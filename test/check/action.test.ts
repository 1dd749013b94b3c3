// actions/check-semver with the real runner contract: INPUT_* variables, GITHUB_OUTPUT and
// GITHUB_STEP_SUMMARY files, a pull_request event file, and GITHUB_API_URL pointing at a local HTTP
// server that stands in for the GitHub REST API and records every request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers.ts';
import { runAction as runRunner } from '../helpers/actions.ts';
import { FakeGitHub } from '../helpers/fake-github.ts';
import { cleanupRepos, makeRepo, newVersion, type TestRepo, VALID_BASE } from './repo.ts';

/** Runs `node actions/check-semver/src/main.ts` as the runner would, in the repository's folder (or in `workspace`). */
function runAction(repo: TestRepo, api: string, inputs: Record<string, string>, workspace = repo.dir) {
  return runRunner('actions/check-semver/src/main.ts', {
    cwd: workspace,
    inputs,
    event: {
      action: 'synchronize',
      number: 7,
      pull_request: { number: 7, base: { sha: repo.base, ref: 'main' }, head: { sha: 'f'.repeat(40) } },
      repository: { name: 'models', owner: { login: 'acme' } },
    },
    env: {
      HOME: process.env.HOME,
      GITHUB_ACTIONS: 'true',
      GITHUB_EVENT_NAME: 'pull_request',
      GITHUB_REPOSITORY: 'acme/models',
      GITHUB_API_URL: api,
      GITHUB_SERVER_URL: 'https://github.com',
      NO_PROXY: '127.0.0.1',
    },
  });
}

const api = new FakeGitHub('acme/models', 7);
beforeAll(() => api.start());
afterAll(async () => {
  await api.stop();
  cleanupRepos();
});

const inputs = { repo: '.', base: '', 'github-token': 'ghs_test', comment: 'true' };

describe('actions/check-semver', { timeout: 30_000 }, () => {
  it('annotates violations, fails, writes summary and outputs, and creates then updates one comment', async () => {
    const repo = makeRepo();
    const file = newVersion(repo, 'intent-classifier', '2.1.0', '2.1.1', [
      ['7266898845682a57d939be5f302105d01437cfce1b2c54e0f68dbba7972ad180', 'ab'.repeat(32)],
      ['labels: [greet, order, cancel_order, other]', 'labels: [greet, order, cancel_order]'],
    ]);
    // A comment from someone else is left alone.
    api.comments = [{ id: 1, body: 'LGTM', user: { login: 'dana' } }];

    const first = await runAction(repo, api.url, inputs);
    expect(first.status).toBe(1);
    const line = repo.lineOf(file, 'version: 2.1.1');
    expect(first.log).toContain(
      `::error title=model-gitops semver-bump%3A version,file=${file},line=${line},col=10::intent-classifier 2.1.1 is a patch bump over 2.1.0, but its changes need a major bump (e.g. 3.0.0):%0A`,
    );
    expect(first.log).toMatch(/::error::1 violation against [0-9a-f]{12}/);
    expect(first.outputs).toMatchObject({ result: 'fail', errors: '1', changes: '1' });
    expect(JSON.parse(first.outputs.report!).semver[0]).toMatchObject({
      version: '2.1.1',
      required: 'major',
      actual: 'patch',
    });
    expect(first.summary).toContain('## model-gitops check failed');
    expect(first.summary).toContain('| `interface.outputs.label.labels` | label "other" removed | major |');

    const created = api.requests.filter((r) => r.method !== 'GET');
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({
      method: 'POST',
      url: '/repos/acme/models/issues/7/comments',
      auth: 'token ghs_test',
    });
    expect(api.comments).toHaveLength(2);
    const mine = api.comments[1]!;
    expect(mine.body.startsWith('<!-- model-gitops:check-semver -->')).toBe(true);
    expect(mine.body).toContain(`\`${file}:${line}\` | \`semver-bump\``);
    expect(first.outputs['comment-id']).toBe(String(mine.id));

    // The author fixes the bump and pushes: the same comment is updated, no second one appears.
    repo.move(file, 'models/intent-classifier/versions/3.0.0.yaml');
    repo.edit('models/intent-classifier/versions/3.0.0.yaml', 'version: 2.1.1', 'version: 3.0.0');
    api.requests.length = 0;
    const second = await runAction(repo, api.url, inputs);
    expect(second.status).toBe(0);
    expect(second.log).not.toContain('::error');
    expect(second.outputs).toMatchObject({ result: 'pass', errors: '0', 'comment-id': String(mine.id) });
    expect(api.requests.map((r) => `${r.method} ${new URL(r.url, api.url).pathname}`)).toEqual([
      'GET /repos/acme/models/issues/7/comments',
      'POST /graphql', // who the token is: only its own comment is updated
      `PATCH /repos/acme/models/issues/comments/${mine.id}`,
    ]);
    expect(api.comments).toHaveLength(2);
    expect(api.comments[0]!.body).toBe('LGTM');
    expect(api.comments[1]!.body).toContain('## model-gitops check passed');
    expect(api.comments[1]!.body).toContain('| intent-classifier | 3.0.0 | major over 2.1.0, needs major |');
  });

  it('never edits a comment it did not write, even one holding its marker: it creates its own and updates only that', async () => {
    const repo = makeRepo();
    repo.edit('environments/production.yaml', 'weight: 5%', 'weight: 10%');
    const pasted = `${'<!-- model-gitops:check-semver -->'}\n## model-gitops check passed\n\n(not really)`;
    // A person, and another bot, pasted the marker; the token is GITHUB_TOKEN's github-actions[bot].
    api.login = 'github-actions[bot]';
    api.comments = [
      { id: 1, body: pasted, user: { login: 'mallory', type: 'User' } },
      { id: 2, body: pasted, user: { login: 'other-app[bot]', type: 'Bot' } },
    ];
    api.requests.length = 0;
    const first = await runAction(repo, api.url, inputs);
    expect(first.status).toBe(0);
    expect(api.requests.filter((r) => r.method === 'PATCH')).toEqual([]);
    expect(api.comments.map((c) => [c.id, c.user.login, c.body === pasted])).toEqual([
      [1, 'mallory', true],
      [2, 'other-app[bot]', true],
      [expect.any(Number), 'github-actions[bot]', false],
    ]);
    const ours = api.comments[2]!;
    expect(first.outputs['comment-id']).toBe(String(ours.id));
    // The next push updates the bot's own comment, still not the pasted ones.
    api.requests.length = 0;
    const second = await runAction(repo, api.url, inputs);
    expect(second.outputs['comment-id']).toBe(String(ours.id));
    expect(api.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /graphql',
      `PATCH /repos/acme/models/issues/comments/${ours.id}`,
    ]);
    expect(api.comments.slice(0, 2).map((c) => c.body)).toEqual([pasted, pasted]);
  });

  it('with a GitHub App token, updates the comment of the app bot and leaves the one of github-actions[bot] alone', async () => {
    const repo = makeRepo();
    repo.edit('environments/production.yaml', 'weight: 5%', 'weight: 10%');
    api.login = 'model-gitops-ci[bot]';
    try {
      api.comments = [
        { id: 1, body: '<!-- model-gitops:check-semver -->\nold', user: { login: 'github-actions[bot]', type: 'Bot' } },
        {
          id: 2,
          body: '<!-- model-gitops:check-semver -->\nold',
          user: { login: 'model-gitops-ci[bot]', type: 'Bot' },
        },
      ];
      const r = await runAction(repo, api.url, inputs);
      expect(r.status).toBe(0);
      expect(r.outputs['comment-id']).toBe('2');
      expect(api.comments[0]!.body).toBe('<!-- model-gitops:check-semver -->\nold');
      expect(api.comments[1]!.body).toContain('## model-gitops check passed');
    } finally {
      api.login = 'github-actions[bot]';
    }
  });

  it('reads the base from the pull_request event when the input is empty, and skips the comment when asked', async () => {
    const repo = makeRepo();
    repo.edit('environments/production.yaml', 'weight: 5%', 'weight: 10%');
    api.requests.length = 0;
    const r = await runAction(repo, api.url, { ...inputs, comment: 'false' });
    expect(r.status).toBe(0);
    expect(r.outputs).toMatchObject({ result: 'pass', changes: '1', 'comment-id': '' });
    expect(r.summary).toContain('- intent-classifier in production: canary weight 5% -> 10%');
    expect(api.requests).toEqual([]);
  });

  it('still annotates and fails when the comment cannot be written (read-only token of a fork)', async () => {
    const repo = makeRepo();
    repo.edit('models/intent-classifier/versions/2.0.0.yaml', 'family: mlp', 'family: bert');
    const r = await runAction(repo, `${api.url}/forbidden`, inputs);
    expect(r.status).toBe(1);
    expect(r.log).toContain(
      '::error title=model-gitops immutable-field%3A architecture.family,file=models/intent-classifier/versions/2.0.0.yaml,line=9',
    );
    expect(r.log).toContain(
      '::warning::could not write the pull-request comment: Resource not accessible by integration',
    );
  });

  it('for an insert refused because of the merged version above it, the comment shows that comparison', async () => {
    const repo = makeRepo(VALID_BASE);
    const [w210, d210] = [
      'cfef9fc33911819077685266717cc67351d887c51285183fcc1ead6f2cf573e2',
      '1f8cde391478e56439948fd138eb8b13a2fed5ed433833d6a3311916db2418f9',
    ];
    newVersion(repo, 'intent-classifier', '2.1.0', '2.3.0', [
      [w210, 'b3'.repeat(32)],
      [d210, 'd3'.repeat(32)],
      ['parent: intent-classifier@2.0.0', 'parent: intent-classifier@2.1.0'],
    ]);
    repo.commitBase();
    // 2.2.0 adds a label 2.3.0 lacks: a minor over 2.1.0, but 2.3.0 would then drop it in a minor.
    newVersion(repo, 'intent-classifier', '2.1.0', '2.2.0', [
      [w210, 'b2'.repeat(32)],
      [d210, 'd2'.repeat(32)],
      ['labels: [greet, order, cancel_order, other]', 'labels: [greet, order, cancel_order, refund, other]'],
    ]);
    api.comments = [];
    const r = await runAction(repo, api.url, inputs);
    expect(r.status).toBe(1);
    const body = api.comments.at(-1)!.body;
    expect(body).toContain(
      '#### intent-classifier 2.2.0 (inserted below 2.3.0): 2.3.0 would be a minor bump over it, needs major',
    );
    expect(body).not.toContain('#### intent-classifier 2.2.0: minor bump over 2.1.0');
  });

  it('annotates at most 50 violations, names files from the workspace root, and logs the rest after a count', async () => {
    const repo = makeRepo();
    // 60 new versions that each drop a label in a patch bump: 60 violations.
    const dropLabel: [string, string] = [
      'labels: [greet, order, cancel_order, other]',
      'labels: [greet, order, cancel_order]',
    ];
    for (let i = 1; i <= 60; i++) newVersion(repo, 'intent-classifier', '2.1.0', `2.1.${i}`, [dropLabel]);
    // The registry is a subfolder of the workspace, given as an absolute path: annotations must name
    // files from the workspace root, where GitHub shows the diff.
    const ws = tempDir('mg-ws-');
    renameSync(repo.dir, join(ws, 'registry'));
    const r = await runAction(repo, api.url, { ...inputs, repo: join(ws, 'registry'), comment: 'false' }, ws);
    expect(r.status).toBe(1);
    const annotations = r.stdout.split('\n').filter((l) => /^::(error|warning) /.test(l));
    expect(annotations).toHaveLength(50);
    for (const a of annotations)
      expect(a).toMatch(/,file=registry\/models\/intent-classifier\/versions\/2\.1\.\d+\.yaml,line=\d+,col=\d+::/);
    expect(r.stdout).toContain('\n10 more not annotated (10 errors; GitHub shows at most 50 annotations per step):\n');
    const logged = r.stdout
      .split('\n')
      .filter((l) => /^registry\/models\/intent-classifier\/versions\/2\.1\.\d+\.yaml:\d+:\d+ {2}/.test(l));
    expect(logged).toHaveLength(10);
    // Each violation is annotated or logged, none twice.
    const files = [...annotations.map((a) => /file=([^,]+)/.exec(a)![1]!), ...logged.map((l) => l.split(':')[0]!)];
    expect(new Set(files).size).toBe(60);
    expect(r.log).toMatch(/::error::60 violations against [0-9a-f]{12}/);
    expect(r.outputs).toMatchObject({ result: 'fail', errors: '60' });
    expect(r.summary).toContain('| error | `registry/models/intent-classifier/versions/2.1.60.yaml:');
  });

  it('fails with the message alone, no stack, on a user error (a base that is not a commit)', async () => {
    const repo = makeRepo();
    const r = await runAction(repo, api.url, { ...inputs, base: 'no-such-branch' });
    expect(r.status).toBe(1);
    const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error'));
    expect(errors).toEqual([
      `::error::base "no-such-branch" is not a commit in . (fetch it first, e.g. git fetch origin no-such-branch)`,
    ]);
    expect(r.log).not.toMatch(/\bat .*:\d+:\d+/);
    expect(r.outputs).toEqual({});
  });

  it('refuses a comment input that is not true or false, naming it', async () => {
    const repo = makeRepo();
    const r = await runAction(repo, api.url, { ...inputs, comment: 'yes' });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`::error::input comment must be 'true' or 'false', got "yes"`);
    expect(r.log).not.toMatch(/\bat .*:\d+:\d+/);
  });
});
