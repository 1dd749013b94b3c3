// audit on a real git history (commits by different people at known times), manifests really
// published into a folder store, and a local HTTP stand-in for GitHub's REST API (pulls and reviews).
import { execFileSync, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit, auditMarkdown } from '../../src/lifecycle/audit.ts';
import { publishRegistry } from '../../src/publish/index.ts';
import { sha256Hex } from '../../src/lib/hash.ts';
import { NODE, ROOT } from '../helpers.ts';
import { type Fixture, makeFixture } from '../publish/helpers.ts';

const TOKEN = 'ghs_standInTokenThatMustNeverBePrinted0001';
let fx: Fixture;
let promote: string; // the commit that moved production's pii-scrubber to 1.4.2
let server: Server;
let api = '';
const seen: { url: string; auth?: string }[] = [];

function commitAs(who: string, when: string, file: string, from: string, to: string, subject: string): string {
  const p = join(fx.repo, file);
  const text = readFileSync(p, 'utf8');
  if (!text.includes(from)) throw new Error(`${file} has no ${from}`);
  writeFileSync(p, text.replace(from, to));
  const env = {
    ...process.env,
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_AUTHOR_NAME: who,
    GIT_AUTHOR_EMAIL: `${who.toLowerCase()}@example.com`,
    GIT_AUTHOR_DATE: when,
    GIT_COMMITTER_NAME: who,
    GIT_COMMITTER_EMAIL: `${who.toLowerCase()}@example.com`,
    GIT_COMMITTER_DATE: when,
  };
  execFileSync('git', ['commit', '-q', '-am', subject], { cwd: fx.repo, env });
  return fx.head();
}

beforeAll(async () => {
  fx = await makeFixture('folder', 'audit');
  // The fixture's first commit is "now"; history for the audit is written after it, in the future.
  const report = Buffer.from('{"stand-in": "benchmark report bytes"}');
  await fx.store.putObject('reports/pii-scrubber/1.4.2/cpu.json', report);
  promote = commitAs(
    'Alice',
    '2030-01-10T09:00:00Z',
    'environments/production.yaml',
    'pii-scrubber: 1.4.1',
    'pii-scrubber: 1.4.2',
    'Promote pii-scrubber 1.4.2 (#41)',
  );
  await publishRegistry({
    repo: fx.repo,
    store: fx.store,
    keys: fx.keys,
    source: { repository: 'acme/models', commit: promote },
    now: new Date('2030-01-10T10:00:00Z'),
    benchmarks: new Map([
      [
        'pii-scrubber@1.4.2',
        { testbed: 'cpu', verdict: 'pass', report: 'reports/pii-scrubber/1.4.2/cpu.json', metrics: { f1: 0.9 } },
      ],
    ]),
  });
  commitAs('Bob', '2030-02-01T09:00:00Z', 'environments/production.yaml', 'weight: 5%', 'weight: 10%', 'Canary to 10%');
  server = createServer((req, res) => {
    seen.push({ url: req.url!, ...(req.headers.authorization ? { auth: req.headers.authorization } : {}) });
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(401, { message: 'Bad credentials' });
    if (req.url === `/repos/acme/models/commits/${promote}/pulls`)
      return send(200, [
        {
          number: 41,
          html_url: 'https://github.com/acme/models/pull/41',
          merged_at: '2030-01-10T09:00:00Z',
          merged_by: { login: 'carol' },
        },
      ]);
    if (req.url?.startsWith('/repos/acme/models/pulls/41/reviews'))
      return send(200, [
        { state: 'APPROVED', user: { login: 'dave' } },
        { state: 'APPROVED', user: { login: 'erin' } },
        { state: 'CHANGES_REQUESTED', user: { login: 'erin' } }, // erin withdrew her approval
        { state: 'COMMENTED', user: { login: 'frank' } },
        { state: 'APPROVED', user: { login: 'carol' } },
      ]);
    if (/^\/repos\/acme\/models\/commits\/[0-9a-f]+\/pulls$/.test(req.url ?? '')) return send(200, []);
    send(404, { message: 'Not Found' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

describe('audit', () => {
  it('what ran in production at a moment, who changed it, and the evidence that let it in', async () => {
    const r = await audit({
      repo: fx.repo,
      at: new Date('2030-01-20T00:00:00Z'),
      environment: 'production',
      store: fx.store,
    });
    expect(r.ref?.commit).toBe(promote);
    expect(r.manifest?.sequence).toBe(1);
    expect(r.manifest?.commit).toBe(promote);
    const pii = r.environments[0]!.models.find((m) => m.model === 'pii-scrubber')!;
    expect(pii.version).toBe('1.4.2');
    expect(pii.changed).toMatchObject({
      commit: promote,
      author: 'Alice',
      email: 'alice@example.com',
      date: '2030-01-10T09:00:00.000Z',
      pullRequest: { number: 41 },
    });
    expect(pii.evidence).toEqual({
      testbed: 'cpu',
      verdict: 'pass',
      report: 'reports/pii-scrubber/1.4.2/cpu.json',
      reportSha256: sha256Hex(Buffer.from('{"stand-in": "benchmark report bytes"}')),
    });
    const ic = r.environments[0]!.models.find((m) => m.model === 'intent-classifier')!;
    expect(ic.canary).toEqual({ version: '2.1.0', weight: '5%' });
    expect(ic.changed?.author).toBe('test'); // unchanged since the fleet was committed
  });

  it('a later moment sees the later change; git ahead of the manifest is shown as such', async () => {
    const r = await audit({
      repo: fx.repo,
      at: new Date('2030-02-10T00:00:00Z'),
      environment: 'production',
      model: 'intent-classifier',
      store: fx.store,
    });
    const ic = r.environments[0]!.models[0]!;
    expect(ic.canary).toEqual({ version: '2.1.0', weight: '10%' });
    expect(ic.changed?.author).toBe('Bob');
    expect(ic.published).toBeUndefined(); // same versions (only the weight moved)
    expect(r.manifest?.sequence).toBe(1);
  });

  it('a commit that only deleted a line (the canary dropped) is the change, not the older one blame names', async () => {
    const drop = commitAs(
      'Dana',
      '2030-02-15T09:00:00Z',
      'environments/production.yaml',
      '    canary: {version: 2.1.0, weight: 10%}\n',
      '',
      'Drop the canary (#52)',
    );
    const r = await audit({
      repo: fx.repo,
      at: new Date('2030-02-20T00:00:00Z'),
      environment: 'production',
      model: 'intent-classifier',
    });
    const ic = r.environments[0]!.models[0]!;
    expect(ic.canary).toBeUndefined();
    expect(ic.changed).toMatchObject({ commit: drop, author: 'Dana', pullRequest: { number: 52 } });
    // Before the drop, Bob's weight change is still the answer.
    const before = await audit({
      repo: fx.repo,
      at: new Date('2030-02-10T00:00:00Z'),
      environment: 'production',
      model: 'intent-classifier',
    });
    expect(before.environments[0]!.models[0]!.changed?.author).toBe('Bob');
  });

  it('before anything was published or committed: said so, not guessed', async () => {
    const r = await audit({ repo: fx.repo, at: new Date('2001-01-01T00:00:00Z'), store: fx.store });
    expect(r.ref).toBeNull();
    expect(r.manifest).toBeNull();
    expect(r.notes.join('\n')).toMatch(/no signed manifest was published at or before 2001-01-01/);
    expect(r.notes.join('\n')).toMatch(/main had no commit at or before/);
  });

  it('approvers from the GitHub API stand-in: latest review per person counts', async () => {
    const r = await audit({
      repo: fx.repo,
      at: new Date('2030-01-20T00:00:00Z'),
      environment: 'production',
      model: 'pii-scrubber',
      github: { apiUrl: api, repository: 'acme/models', token: TOKEN },
    });
    expect(r.environments[0]!.models[0]!.changed?.pullRequest).toEqual({
      number: 41,
      url: 'https://github.com/acme/models/pull/41',
      approvers: ['carol', 'dave'],
      mergedBy: 'carol',
    });
    expect(seen.every((s) => s.auth === `Bearer ${TOKEN}`)).toBe(true);
    await expect(
      audit({
        repo: fx.repo,
        at: new Date('2030-01-20T00:00:00Z'),
        environment: 'production',
        github: { apiUrl: api, repository: 'acme/models', token: 'wrong' },
      }),
    ).rejects.toThrow(/refused the token \(HTTP 401\)/);
  });

  it('markdown fit for a ticket', async () => {
    const r = await audit({
      repo: fx.repo,
      at: new Date('2030-01-20T00:00:00Z'),
      environment: 'production',
      store: fx.store,
    });
    const md = auditMarkdown(r);
    expect(md).toContain('## What ran at 2030-01-20T00:00:00.000Z');
    expect(md).toContain(
      '| Model | Version | Canary | Rollback window | Changed by | When | Commit | Pull request | Approved by | Evidence |',
    );
    expect(md).toMatch(
      /\| pii-scrubber \| 1\.4\.2 \|  \|  \| Alice <alice@example\.com> \| 2030-01-10T09:00:00\.000Z \| `[0-9a-f]{12}` \| #41 \|  \| pass on cpu, report sha256 [0-9a-f]{64} \|/,
    );
  });

  it('the CLI: --markdown with the token from GITHUB_TOKEN never prints it; bad input is refused by name', async () => {
    const run = (args: string[], env: Record<string, string> = {}) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const c = spawn(NODE, [join(ROOT, 'bin', 'model-gitops.js'), 'audit', '--repo', fx.repo, ...args], {
          env: { ...process.env, NO_COLOR: '1', ...env },
        });
        let out = '';
        let err = '';
        c.stdout.on('data', (d: Buffer) => (out += d));
        c.stderr.on('data', (d: Buffer) => (err += d));
        c.on('close', (code) => resolve({ code, out, err }));
      });
    const ok = await run(
      [
        '--at',
        '2030-01-20T00:00:00Z',
        '--environment',
        'production',
        '--markdown',
        '--github-repository',
        'acme/models',
        '--store',
        fx.storeUrl,
      ],
      {
        GITHUB_TOKEN: TOKEN,
        GITHUB_API_URL: api,
      },
    );
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('[#41](https://github.com/acme/models/pull/41) | carol, dave |');
    expect(ok.out + ok.err).not.toContain(TOKEN);
    const refused = await run(['--environment', 'production', '--github-repository', 'acme/models'], {
      GITHUB_TOKEN: 'nope',
      GITHUB_API_URL: api,
    });
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('refused the token (HTTP 401)');
    expect(refused.err).not.toContain('nope');
    const badAt = await run(['--at', 'last tuesday']);
    expect(badAt.code).toBe(2);
    expect(badAt.err).toContain('--at must be a date and time (ISO 8601');
    const badEnv = await run(['--environment', 'prod', '--json']);
    expect(badEnv.code).toBe(2);
    expect(badEnv.err).toMatch(/no environment "prod" on main at [0-9a-f]{12} \(it has: dev, production, staging\)/);
    const json = await run(['--at', '2030-03-01T00:00:00Z', '--json', '--model', 'intent-classifier']);
    expect(JSON.parse(json.out).environments.map((e: { environment: string }) => e.environment)).toEqual([
      'dev',
      'production',
      'staging',
    ]);
  });
});
